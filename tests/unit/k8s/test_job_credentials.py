"""Job ranks on Kubernetes get storage credentials from a Secret reference: settings that
would put a credential into the pod spec or the job's ConfigMap as a literal are refused when
the server reads its configuration, naming the setting and what to use instead."""

from __future__ import annotations

from typing import Any

import pytest
from traitlets import TraitError

from labrig.k8s.jobs import KubernetesJobBackend
from labrig.k8s.manifests import credential_options, literal_credentials

FROM_SECRET = {"secretKeyRef": {"name": "labrig-s3", "key": "secret-key"}}


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "AWS_SECRET_ACCESS_KEY", "value": "pl4nted-v4lue"},
        {"name": "OSS_ACCESS_KEY_SECRET", "value": "pl4nted-v4lue"},
        {"name": "AWS_SESSION_TOKEN", "value": "pl4nted-v4lue"},
    ],
)
def test_a_literal_credential_in_storage_env_is_refused(entry: dict[str, Any]) -> None:
    with pytest.raises(TraitError) as caught:
        KubernetesJobBackend(storage_env=[{"name": "AWS_REGION", "value": "x"}, entry])
    message = str(caught.value)
    assert "KubernetesJobBackend.storage_env" in message
    assert entry["name"] in message
    assert "secretKeyRef" in message
    assert "pl4nted-v4lue" not in message


def test_secret_references_and_plain_values_are_accepted() -> None:
    entries = [
        {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": FROM_SECRET},
        {"name": "AWS_REGION", "value": "eu-west-1"},
    ]
    assert literal_credentials(entries) == []
    assert KubernetesJobBackend(storage_env=entries).storage_env == entries


def test_credentials_in_rank_storage_options_are_refused() -> None:
    options = {"client_kwargs": {"endpoint_url": "http://minio:9000"}, "secret": "s3cr3t"}
    assert credential_options(options) == ["secret"]
    with pytest.raises(TraitError) as caught:
        KubernetesJobBackend(rank_storage_options=options)
    assert "rank_storage_options" in str(caught.value)
    assert "secret" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)
    assert credential_options({"client_kwargs": {"endpoint_url": "http://minio:9000"}}) == []


def test_a_literal_credential_in_kernel_pod_env_is_refused_and_a_reference_is_not() -> None:
    from labrig.k8s.kernel_backend import KubernetesKernelBackend

    literal = {"name": "AWS_SECRET_ACCESS_KEY", "value": "pl4nted-v4lue"}
    with pytest.raises(TraitError) as caught:
        KubernetesKernelBackend(env=[literal])
    message = str(caught.value)
    assert "KubernetesKernelBackend.env" in message
    assert "AWS_SECRET_ACCESS_KEY" in message
    assert "pl4nted-v4lue" not in message
    referenced = [{"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": FROM_SECRET}]
    assert KubernetesKernelBackend(env=referenced).env == referenced
