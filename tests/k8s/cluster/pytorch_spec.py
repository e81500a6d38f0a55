"""What the training operator (v1.9) reads from a PyTorchJob spec: its defaults, replica
order and ports, the elastic policy's env, and what its validating webhook rejects."""

from __future__ import annotations

from typing import Any

from .. import kube, validation

PYTORCH_PORT_NAME = "pytorchjob-port"
PYTORCH_DEFAULT_PORT = 23456


def ordered_replica_types(specs: dict[str, Any]) -> list[str]:
    order = ["Master", "Worker"]
    return [t for t in order if t in specs] + sorted(t for t in specs if t not in order)


def pytorch_port(replicas: dict[str, Any], rtype: str) -> int:
    rspec = replicas.get(rtype) or {}
    for container in ((rspec.get("template") or {}).get("spec") or {}).get("containers") or []:
        if container.get("name") == "pytorch":
            for port in container.get("ports") or []:
                if port.get("name") == PYTORCH_PORT_NAME:
                    return int(port.get("containerPort", PYTORCH_DEFAULT_PORT))
    return PYTORCH_DEFAULT_PORT


def pytorch_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """SetDefaults_PyTorchJob (v1.9), in memory as the operator applies it."""
    spec = kube.clone(spec)
    run_policy = spec.setdefault("runPolicy", {})
    run_policy.setdefault("cleanPodPolicy", "None")
    replicas = spec.setdefault("pytorchReplicaSpecs", {})
    for key in list(replicas):
        camel = key[:1].upper() + key[1:].lower()
        if camel in ("Master", "Worker") and camel != key:
            replicas[camel] = replicas.pop(key)
    for rspec in replicas.values():
        rspec.setdefault("replicas", 1)
        rspec.setdefault("restartPolicy", "OnFailure")
        pod_spec = rspec.setdefault("template", {}).setdefault("spec", {})
        for container in pod_spec.get("containers") or []:
            if container.get("name") == "pytorch":
                ports = container.setdefault("ports", [])
                if not any(p.get("name") == PYTORCH_PORT_NAME for p in ports):
                    ports.append(
                        {
                            "name": PYTORCH_PORT_NAME,
                            "containerPort": PYTORCH_DEFAULT_PORT,
                            "protocol": "TCP",
                        }
                    )
    elastic = spec.get("elasticPolicy")
    if elastic is not None:
        worker = (replicas.get("Worker") or {}).get("replicas")
        if elastic.get("maxReplicas") is not None and elastic.get("minReplicas") is None:
            elastic["minReplicas"] = elastic["maxReplicas"]
        elif elastic.get("minReplicas") is not None and elastic.get("maxReplicas") is None:
            elastic["maxReplicas"] = elastic["minReplicas"]
        elif elastic.get("minReplicas") is None and elastic.get("maxReplicas") is None:
            elastic["minReplicas"] = elastic["maxReplicas"] = worker
    if (elastic is not None and elastic.get("nProcPerNode") is None) or elastic is None:
        spec.setdefault("nprocPerNode", "auto")
    return spec


def elastic_env(name: str, spec: dict[str, Any], elastic: dict[str, Any]) -> list[dict[str, Any]]:
    replicas = spec["pytorchReplicaSpecs"]
    host = elastic.get("rdzvHost") or f"{name}-worker-0"
    port = elastic.get("rdzvPort") or pytorch_port(replicas, "Worker")
    env = [
        {"name": "PET_RDZV_ENDPOINT", "value": f"{host}:{port}"},
        {"name": "PET_RDZV_BACKEND", "value": elastic.get("rdzvBackend") or "c10d"},
    ]
    if elastic.get("minReplicas") is None and elastic.get("maxReplicas") is None:
        env.append(
            {"name": "PET_NNODES", "value": str((replicas.get("Worker") or {}).get("replicas", 1))}
        )
    else:
        env.append(
            {
                "name": "PET_NNODES",
                "value": f"{elastic.get('minReplicas')}:{elastic.get('maxReplicas')}",
            }
        )
    if elastic.get("maxRestarts") is not None:
        env.append({"name": "PET_MAX_RESTARTS", "value": str(elastic["maxRestarts"])})
    if elastic.get("nProcPerNode") is not None:
        env.append({"name": "PET_NPROC_PER_NODE", "value": str(elastic["nProcPerNode"])})
    if elastic.get("rdzvId") is not None:
        env.append({"name": "PET_RDZV_ID", "value": str(elastic["rdzvId"])})
    if elastic.get("rdzvConf"):
        env.append(
            {
                "name": "PET_RDZV_CONF",
                "value": ",".join(f"{c['key']}={c['value']}" for c in elastic["rdzvConf"]),
            }
        )
    if elastic.get("standalone"):
        env.append({"name": "PET_STANDALONE", "value": ""})
    return env


def validate_pytorchjob(job: dict[str, Any]) -> list[str]:
    """The v1.9 PyTorchJob validating webhook (field errors as apimachinery prints them)."""
    errors = []
    name = job["metadata"].get("name", "")
    err = validation.dns1035_label_error(name)
    if err:
        errors.append(f'metadata.name: Invalid value: "{name}": should match: {err}')
    spec = job.get("spec") or {}
    elastic = spec.get("elasticPolicy")
    replicas = spec.get("pytorchReplicaSpecs")
    if elastic is not None:
        if "Worker" not in (replicas or {}):
            errors.append(
                "spec.pytorchReplicaSpecs[Worker]: Required value: must be configured if elastic "
                "policy is used"
            )
        if elastic.get("nProcPerNode") is not None and spec.get("nprocPerNode") is not None:
            errors.append(
                "spec.elasticPolicy.nProcPerNode: Forbidden: must not be used with "
                "spec.nprocPerNode"
            )
    if replicas is None:
        errors.append("spec.pytorchReplicaSpecs: Required value: must be required")
        return errors
    for rtype, rspec in replicas.items():
        path = f"spec.pytorchReplicaSpecs[{rtype}]"
        containers_path = f"{path}.template.spec.containers"
        if rtype not in ("Master", "Worker"):
            errors.append(
                f'{path}: Unsupported value: "{rtype}": supported values: "Master", "Worker"'
            )
        containers = (((rspec or {}).get("template") or {}).get("spec") or {}).get(
            "containers"
        ) or []
        if not containers:
            errors.append(f"{containers_path}: Required value: must be specified")
        for index, container in enumerate(containers):
            if not container.get("image"):
                errors.append(f"{containers_path}[{index}].image: Required value: must be required")
        if not any(c.get("name") == "pytorch" for c in containers):
            errors.append(
                f"{containers_path}: Required value: must have at least one container with name "
                "pytorch"
            )
        count = (rspec or {}).get("replicas")
        if rtype == "Master":
            if count is None or int(count) != 1:
                errors.append(f"{path}.replicas: Forbidden: must be 1")
        elif count is not None and int(count) < 1:
            errors.append(f"{path}.replicas: Forbidden: must be at least 1")
    return errors
