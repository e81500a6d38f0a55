"""The model store's credentials and errors: where credentials come from, and that every
message built from a store's error names the store and the setting, never a credential."""

from __future__ import annotations

from pathlib import Path

import pytest

from labrig.errors import InvalidInput, StorageFull, Unavailable
from labrig.models.store import BlobStore
from labrig.models.store_access import (
    StoreAccessDenied,
    check_endpoint,
    mask,
    secrets_of,
    store_error,
    with_env_credentials,
)


@pytest.fixture(autouse=True)
def no_store_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "OSS_ACCESS_KEY_ID",
        "OSS_ACCESS_KEY_SECRET",
        "OSS_SESSION_TOKEN",
        "OSS_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)


def test_oss_credentials_come_from_the_environment_unless_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", "env-secret")
    assert with_env_credentials("oss", {"endpoint": "e"}) == {
        "endpoint": "e",
        "key": "env-key",
        "secret": "env-secret",
    }
    configured = {"endpoint": "e", "key": "k", "secret": "s"}
    assert with_env_credentials("oss", configured) == configured
    # botocore reads the AWS variables itself: s3 options are left as they are
    assert with_env_credentials("s3", {}) == {}


def test_secrets_are_gathered_from_nested_options_and_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-the-environment")
    options = {
        "key": "key-id-1",
        "client_kwargs": {"aws_secret_access_key": "nested-secret", "region_name": "eu"},
        "default_block_size": 5 * 1024 * 1024,
    }
    assert set(secrets_of("s3", options)) == {"key-id-1", "nested-secret", "from-the-environment"}
    assert mask("a nested-secret and key-id-1", secrets_of("s3", options)) == "a *** and ***"


def test_a_refusal_names_the_store_and_the_settings_and_masks_the_secret() -> None:
    err = PermissionError("AccessDenied for super-secret-value")
    found = store_error(err, "oss://b/p", "oss", ["super-secret-value"])
    assert isinstance(found, StoreAccessDenied)
    assert isinstance(found, Unavailable)  # 503: the deployment's dependency, not the caller
    assert found.field == "model_store_options"
    for part in ("oss://b/p", "LabrigApp.model_store_options", "OSS_ACCESS_KEY_ID"):
        assert part in found.message
    assert "super-secret-value" not in found.message
    s3 = store_error(OSError("An error occurred (InvalidAccessKeyId)"), "s3://b/p", "s3")
    assert isinstance(s3, StoreAccessDenied)
    assert "AWS_SECRET_ACCESS_KEY" in s3.message


def test_other_failures_are_unavailable_or_full() -> None:
    down = store_error(ConnectionError("refused at s3cr3t-token"), "s3://b", "s3", ["s3cr3t-token"])
    assert type(down) is Unavailable
    assert "s3cr3t-token" not in down.message
    assert isinstance(store_error(OSError(28, "No space left"), "file:///m"), StorageFull)


def test_an_oss_store_without_an_endpoint_says_which_setting_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(InvalidInput, match="OSS_ENDPOINT") as missing:
        check_endpoint("oss://b/p", "oss", {})
    assert missing.value.field == "model_store_options"
    monkeypatch.setenv("OSS_ENDPOINT", "https://oss-cn-hangzhou.aliyuncs.com")
    check_endpoint("oss://b/p", "oss", {})


@pytest.mark.parametrize("size", [1024, "64MiB", True])
def test_a_part_size_s3_would_refuse_is_rejected(tmp_path: Path, size: object) -> None:
    with pytest.raises(InvalidInput, match="default_block_size") as bad:
        BlobStore(tmp_path.as_uri(), {"default_block_size": size})
    assert bad.value.field == "model_store_options"
