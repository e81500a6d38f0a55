"""The server's settings as a local job's supervisor gets them: what goes into job.json holds no
credential, and the supervisor puts them back together from its environment."""

from __future__ import annotations

import json
import os

import pytest

from labrig.jobs.secret_settings import (
    SECRETS_ENV,
    secrets_env,
    split_secrets,
    take_secrets_from_env,
    with_secrets,
)

SETTINGS = {
    "LabrigApp": {
        "data_dir": "/srv/labrig",
        "database_url": "postgresql+psycopg://labrig:db-pass-1@db:5432/labrig",
        "model_store_url": "s3://models/labrig",
        "model_store_options": {
            "key": "AKIA-store-key",
            "secret": "store-secret-2",
            "client_kwargs": {"endpoint_url": "http://minio:9000", "region_name": "x"},
            "default_block_size": 8388608,
        },
        "job_backend_class": "labrig.jobs.local.LocalJobBackend",
    },
    "KubernetesJobBackend": {
        "storage_options": {"aws_secret_access_key": "k8s-secret-3", "anon": False},
        "storage_env": [
            {"name": "AWS_SECRET_ACCESS_KEY", "value": "literal-secret-4"},
            {"name": "AWS_REGION", "value": "eu-west-1"},
        ],
    },
    "HTTPSource": {"headers": {"X-Api-Token": "header-token-5"}},
    "FluidDatasetCache": {"credentials_secrets": {"*": "labrig-s3"}},
}
PLANTED = ["db-pass-1", "AKIA-store-key", "store-secret-2", "k8s-secret-3", "literal-secret-4"]


def test_no_credential_is_left_in_what_is_written_and_the_rest_is() -> None:
    public, secrets = split_secrets(SETTINGS)
    written = json.dumps(public)
    for value in [*PLANTED, "header-token-5"]:
        assert value not in written
    assert public["LabrigApp"]["model_store_options"]["client_kwargs"] == {
        "endpoint_url": "http://minio:9000",
        "region_name": "x",
    }
    assert public["LabrigApp"]["job_backend_class"] == "labrig.jobs.local.LocalJobBackend"
    assert public["KubernetesJobBackend"]["storage_env"][1]["value"] == "eu-west-1"
    assert public["LabrigApp"]["database_url"] is None
    assert with_secrets(public, secrets) == SETTINGS
    assert SETTINGS["LabrigApp"]["model_store_options"]["secret"] == "store-secret-2"  # untouched


def test_settings_without_credentials_are_written_whole() -> None:
    plain = {"LabrigApp": {"database_url": "sqlite:////srv/labrig.db", "data_dir": "/srv"}}
    assert split_secrets(plain) == (plain, [])
    assert secrets_env([]) == {}


def test_the_supervisor_takes_them_from_its_environment_and_leaves_none_for_its_ranks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    public, secrets = split_secrets(SETTINGS)
    # Through a real environment: what a child process of the launcher would receive.
    monkeypatch.setenv(SECRETS_ENV, secrets_env(secrets)[SECRETS_ENV])
    taken = take_secrets_from_env()
    assert SECRETS_ENV not in os.environ
    assert with_secrets(public, taken) == SETTINGS
    assert take_secrets_from_env() == []
