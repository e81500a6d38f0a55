"""Tests against a real cluster: they run when ``LABRIG_TEST_KUBECONFIG`` names a kubeconfig
whose cluster has the Kubeflow training operator, and skip otherwise (no cluster exists on the
machines labrig's CI runs on; the emulator suite covers the same behaviour there).

    LABRIG_TEST_KUBECONFIG=~/.kube/config \\
    LABRIG_TEST_NAMESPACE=ml \\
    LABRIG_TEST_IMAGE=registry.example.com/ml/labrig-rank:0.1 \\
    LABRIG_TEST_STORAGE_URL=s3://ml-jobs/labrig-ci \\
    .venv/bin/pytest tests/cluster
"""

from __future__ import annotations

import os

import pytest

REQUIRED = (
    "LABRIG_TEST_KUBECONFIG",
    "LABRIG_TEST_NAMESPACE",
    "LABRIG_TEST_IMAGE",
    "LABRIG_TEST_STORAGE_URL",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if not missing:
        return
    reason = f"no real cluster configured ({', '.join(missing)} unset)"
    for item in items:
        if item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.skip(reason=reason))
