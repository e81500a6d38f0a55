"""Schema validation against the pinned CRDs and kubernetes-validate's strict schemas."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from . import manifests as m
from .validation import (
    K8S_VERSION,
    ManifestInvalid,
    apply_defaults,
    crd_infos,
    crd_schema,
    crds_dir,
    validate,
    validate_core,
    validate_custom,
)


def test_crds_found_and_all_parsed() -> None:
    assert (crds_dir() / "README.md").exists()
    names = {c.name for c in crd_infos()}
    assert {
        "pytorchjobs.kubeflow.org",
        "trainjobs.trainer.kubeflow.org",
        "clustertrainingruntimes.trainer.kubeflow.org",
        "workloads.kueue.x-k8s.io",
        "jobsets.jobset.x-k8s.io",
        "datasets.data.fluid.io",
    } <= names
    workloads = next(c for c in crd_infos() if c.plural == "workloads")
    assert workloads.storage_version == "v1beta2"
    assert [v.name for v in workloads.versions] == ["v1beta1", "v1beta2"]


def test_crds_dir_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LABRIG_CRDS_DIR", str(tmp_path))
    assert crds_dir() == tmp_path


def test_pinned_version_is_the_newest_kubernetes_validate_has() -> None:
    newest = kubernetes_validate.utils.latest_version()
    assert kubernetes_validate.utils.major_minor(newest) == K8S_VERSION


@pytest.mark.parametrize(
    "obj",
    [
        m.pytorchjob(
            "train", ["python", "-c", "print(1)"], workers=2, queue="ml-queue", nproc_per_node="2"
        ),
        m.trainjob(
            "tj", ["torchrun", "train.py"], num_nodes=2, resources={"limits": {"nvidia.com/gpu": 1}}
        ),
        *m.kueue_objects(),
        m.configmap("cm", {"a": "b"}),
        m.pod("p", ["sleep", "1"], resources={"limits": {"cpu": "500m", "memory": "1Gi"}}),
    ],
    ids=lambda o: o["kind"],
)
def test_valid_manifests(obj: dict[str, Any]) -> None:
    validate(obj)


def test_unknown_field_deep_in_pod_template_names_its_path() -> None:
    job = m.pytorchjob("train", ["python"])
    job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["foo"] = 1
    with pytest.raises(ManifestInvalid) as info:
        validate_custom(job)
    assert (
        str(info.value)
        == "spec.pytorchReplicaSpecs.Master.template.spec.containers[0].foo: unknown field"
    )
    assert info.value.field == "spec.pytorchReplicaSpecs.Master.template.spec.containers[0].foo"


def test_unknown_top_level_and_metadata_fields() -> None:
    job = m.trainjob("tj", ["x"])
    job["extra"] = True
    job["metadata"]["lables"] = {"a": "b"}
    with pytest.raises(ManifestInvalid) as info:
        validate(job)
    text = str(info.value)
    assert "extra: unknown field" in text
    assert "metadata.lables: unknown field" in text


def test_wrong_type_names_field_and_types() -> None:
    job = m.pytorchjob("train", ["python"])
    job["spec"]["runPolicy"] = {"suspend": "yes"}
    with pytest.raises(ManifestInvalid) as info:
        validate(job)
    assert str(info.value) == (
        'spec.runPolicy.suspend: Invalid value: "string": spec.runPolicy.suspend in body must be '
        'of type boolean: "string"'
    )


def test_int_or_string_quantities() -> None:
    job = m.pytorchjob("train", ["python"], resources={"limits": {"cpu": 2, "memory": "1Gi"}})
    validate(job)
    job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["resources"][
        "limits"
    ]["cpu"] = [2]
    with pytest.raises(ManifestInvalid, match=r"limits\.cpu: Invalid value: \"array\""):
        validate(job)


def test_duplicate_env_names_rejected_like_list_map_keys() -> None:
    job = m.pytorchjob("train", ["python"], env={"A": "1"})
    env = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["env"]
    env.append({"name": "A", "value": "2"})
    with pytest.raises(ManifestInvalid, match=r"containers\[0\]\.env\[1\]: Duplicate value"):
        validate(job)


def test_required_enum_and_label_syntax() -> None:
    cq = copy.deepcopy(m.kueue_objects()[1])
    del cq["spec"]["resourceGroups"][0]["coveredResources"]
    cq["spec"]["queueingStrategy"] = "Random"
    cq["metadata"]["labels"] = {"team": "a b"}
    with pytest.raises(ManifestInvalid) as info:
        validate(cq)
    text = str(info.value)
    assert "spec.resourceGroups[0].coveredResources: Required value" in text
    assert (
        'spec.queueingStrategy: Unsupported value: "Random": supported values: "StrictFIFO", '
        '"BestEffortFIFO"' in text
    )
    assert 'metadata.labels: Invalid value: "a b"' in text


def test_nulls_are_dropped_like_the_api_server() -> None:
    job = m.pytorchjob("train", ["python"])
    job["spec"]["elasticPolicy"] = None
    validate(job)


def test_version_must_be_served() -> None:
    cq = copy.deepcopy(m.kueue_objects()[1])
    cq["apiVersion"] = "kueue.x-k8s.io/v1alpha9"
    with pytest.raises(ManifestInvalid, match="apiVersion: Unsupported value"):
        validate(cq)


def test_core_kinds_strict() -> None:
    pod = m.pod("p", ["sleep"])
    pod["spec"]["containers"][0]["bar"] = 1
    pod["spec"]["restartPolicy"] = 7
    with pytest.raises(ManifestInvalid) as info:
        validate_core(pod)
    text = str(info.value)
    assert "spec.containers[0].bar: unknown field" in text
    assert "spec.restartPolicy: Invalid value" in text
    with pytest.raises(ManifestInvalid, match="unknown field"):
        validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "date": {}})


def test_core_validation_agrees_with_kubernetes_validate() -> None:
    good = m.pod("p", ["sleep"], resources={"limits": {"cpu": "1"}})
    bad = copy.deepcopy(good)
    bad["spec"]["containers"][0]["bar"] = 1
    kubernetes_validate.validate(good, K8S_VERSION, strict=True)
    validate_core(good)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
    with pytest.raises(ManifestInvalid):
        validate_core(bad)


def test_defaults_from_the_schema() -> None:
    job = m.trainjob("tj", ["x"])
    apply_defaults(job, crd_schema("trainer.kubeflow.org", "v1alpha1", "TrainJob"))
    assert job["spec"]["runtimeRef"] == {
        "name": "torch-distributed",
        "apiGroup": "trainer.kubeflow.org",
        "kind": "ClusterTrainingRuntime",
    }
