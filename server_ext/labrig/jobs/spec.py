"""A job's specification, validated the same way for the REST API, the CLI and schedules.

Every rejection is an ``InvalidInput`` naming the field (``parameters.lr``, ``procs_per_node``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..resources.quantity import format_bytes, format_cpus, parse_bytes, parse_cpus
from ..validation import check_fields, check_text
from .capacity import HostTotals

FIELDS = {
    "notebook_path",
    "parameters",
    "strict",
    "nodes",
    "procs_per_node",
    "cpus",
    "memory",
    "gpus",
    "gpu_type",
    "datasets",
    "env",
    "name",
    "priority",
    "outputs",
    "timeout",
    "kernel_name",
    "profile",
}
MAX_NODES = 16
MAX_PROCS_PER_NODE = 64
MAX_TIMEOUT = 30 * 24 * 3600
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
#: Set by torchrun and labrig for every rank; a job cannot override them.
RESERVED_ENV = {
    "RANK",
    "LOCAL_RANK",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "GROUP_RANK",
    "MASTER_ADDR",
    "MASTER_PORT",
    "CUDA_VISIBLE_DEVICES",
}


@dataclass
class JobSpec:
    notebook_path: str
    parameters: dict[str, Any] = field(default_factory=dict)
    strict: bool = True
    nodes: int = 1
    procs_per_node: int = 1
    cpus: float | None = 1.0
    memory: int | None = None
    gpus: int = 0
    gpu_type: str | None = None
    datasets: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    name: str = ""
    priority: int = 0
    outputs: list[dict[str, str]] = field(default_factory=list)
    timeout: int | None = None
    kernel_name: str | None = None
    #: The resource profile the notebook's kernel used (a cluster places the job's pods by it).
    profile: str | None = None

    @property
    def world_size(self) -> int:
        return self.nodes * self.procs_per_node

    def json(self) -> dict[str, Any]:
        return asdict(self)


def _int(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number, got {value!r}", field=name)
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be from {low} to {high}, got {value}", field=name)
    return value


def _check_host(
    host: HostTotals,
    world: int,
    cpus: float | None,
    memory: int | None,
    gpus: int,
    gpu_type: str | None,
) -> None:
    """All ranks of a job must fit on this host at once."""
    if cpus is not None and world * cpus > host.cpus + 1e-9:
        raise InvalidInput(
            f"{world} processes x {cpus:g} CPUs need {world * cpus:g} CPUs; this host has "
            f"{host.cpus:g}",
            field="procs_per_node",
        )
    if memory is not None and world * memory > host.memory:
        raise InvalidInput(
            f"{world} processes x {format_bytes(memory)} need {format_bytes(world * memory)}; "
            f"this host has {format_bytes(host.memory)}",
            field="memory",
        )
    fitting = [g for g in host.gpus if gpu_type in (None, "", g.type)]
    if world * gpus > len(fitting):
        raise InvalidInput(
            f"{world} processes x {gpus} GPU(s) need {world * gpus}; this host has "
            f"{len(fitting)}{f' of type {gpu_type}' if gpu_type else ''}",
            field="gpus",
        )


def parse_spec(body: dict[str, Any], host: HostTotals | None) -> JobSpec:
    """Check the shape and ranges of a submission (parameters are checked against the
    notebook separately, once it is snapshotted). ``host``: the machine the ranks must fit on,
    or None when a cluster places them."""
    check_fields(body, FIELDS, what="a job")
    path = body.get("notebook_path")
    if not isinstance(path, str) or not path.strip():
        raise InvalidInput("notebook_path is required: the notebook to run", field="notebook_path")
    parameters = body.get("parameters", {})
    if not isinstance(parameters, dict):
        raise InvalidInput('parameters must be an object, e.g. {"lr": 0.01}', field="parameters")
    strict = body.get("strict", True)
    if not isinstance(strict, bool):
        raise InvalidInput("strict must be true or false", field="strict")
    nodes = _int(body, "nodes", 1, 1, MAX_NODES)
    procs = _int(body, "procs_per_node", 1, 1, MAX_PROCS_PER_NODE)
    # The same quantities, parser and messages as a kernel's request (``4Gi``, ``500m``).
    cpus = body.get("cpus", 1.0)
    if cpus is not None:
        cpus = parse_cpus(cpus, field="cpus")
        if host is not None and cpus > host.cpus:
            raise InvalidInput(
                f"cpus {format_cpus(cpus)} per process is more than this host's capacity of "
                f"{format_cpus(host.cpus)}",
                field="cpus",
            )
    memory = body.get("memory")
    if memory is not None:
        memory = parse_bytes(memory, field="memory")
        if host is not None and memory > host.memory:
            raise InvalidInput(
                f"memory {format_bytes(memory)} per process is more than this host's capacity "
                f"of {format_bytes(host.memory)}",
                field="memory",
            )
    gpus = _int(body, "gpus", 0, 0, 64)
    gpu_type = body.get("gpu_type")
    if gpu_type is not None and not isinstance(gpu_type, str):
        raise InvalidInput("gpu_type must be a string", field="gpu_type")
    world = nodes * procs
    if host is not None:
        _check_host(host, world, cpus, memory, gpus, gpu_type)
    datasets = body.get("datasets", [])
    if not isinstance(datasets, list) or not all(isinstance(d, str) and d for d in datasets):
        raise InvalidInput("datasets must be a list of dataset names", field="datasets")
    env = body.get("env", {})
    if not isinstance(env, dict):
        raise InvalidInput(
            'env must be an object of strings, e.g. {"OMP_NUM_THREADS": "1"}', field="env"
        )
    for key, value in env.items():
        if not ENV_NAME.fullmatch(key) or not isinstance(value, str) or len(value) > 32768:
            raise InvalidInput(
                f"env[{key!r}] is not allowed: names are letters, digits and '_', values strings",
                field="env",
            )
        if key in RESERVED_ENV or key.startswith("LABRIG_"):
            raise InvalidInput(
                f"env[{key!r}] is set by labrig and torchrun for every rank", field="env"
            )
    name = body.get("name") or Path(path).stem
    name = check_text(name, field="name", max_length=255)
    priority = _int(body, "priority", 0, -1000, 1000)
    outputs = body.get("outputs", [])
    if not isinstance(outputs, list):
        raise InvalidInput('outputs must be a list of {"name", "path"}', field="outputs")
    for output in outputs:
        if (
            not isinstance(output, dict)
            or set(output) != {"name", "path"}
            or not all(isinstance(v, str) and v for v in output.values())
        ):
            raise InvalidInput(
                'each output is {"name": model name, "path": file or folder}', field="outputs"
            )
    timeout = body.get("timeout")
    if timeout is not None:
        timeout = _int(body, "timeout", 0, 1, MAX_TIMEOUT)
    kernel_name = body.get("kernel_name")
    if kernel_name is not None and not isinstance(kernel_name, str):
        raise InvalidInput("kernel_name must be a string", field="kernel_name")
    profile = body.get("profile")
    if profile is not None and (not isinstance(profile, str) or len(profile) > 255):
        raise InvalidInput("profile must be a resource profile's slug", field="profile")
    return JobSpec(
        notebook_path=path,
        parameters=dict(parameters),
        strict=strict,
        nodes=nodes,
        procs_per_node=procs,
        cpus=cpus,
        memory=memory,
        gpus=gpus,
        gpu_type=gpu_type or None,
        datasets=list(datasets),
        env=dict(env),
        name=name,
        priority=priority,
        outputs=[dict(o) for o in outputs],
        timeout=timeout,
        kernel_name=kernel_name,
        profile=profile or None,
    )


# --- parameters -------------------------------------------------------------------------------

_OPTIONAL = re.compile(r"^(?:Optional\[(.+)\]|(.+?)\s*\|\s*None|None\s*\|\s*(.+))$")


def _literal(source: str | None) -> Any:
    if source is None:
        return None
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def param_type(info: dict[str, Any]) -> tuple[str, bool]:
    """The base type name of a notebook parameter and whether it may be None."""
    name = str(info.get("inferred_type_name") or "None").strip()
    optional = False
    match = _OPTIONAL.match(name)
    if match:
        name = next(group for group in match.groups() if group).strip()
        optional = True
    base = name.split("[", 1)[0].lower()
    if base in ("none", ""):
        default = _literal(info.get("default"))
        base = {
            bool: "bool",
            int: "int",
            float: "float",
            str: "str",
            list: "list",
            dict: "dict",
        }.get(type(default), "any")
        optional = True if default is None else optional
    aliases = {"tuple": "list", "sequence": "list", "mapping": "dict"}
    base = aliases.get(base, base)
    if base not in ("bool", "int", "float", "str", "list", "dict"):
        base = "any"
    return base, optional


def _declared(type_name: Any) -> str | None:
    return None if type_name in (None, "", "None") else str(type_name)


def form_parameters(inspected: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for name, info in inspected.items():
        base, optional = param_type(info)
        out.append(
            {
                "name": name,
                "type": base,
                "optional": optional,
                # papermill says "None" for a parameter without an annotation.
                "declared_type": _declared(info.get("inferred_type_name")),
                "default": info.get("default"),
                "value": _literal(info.get("default")),
                "help": info.get("help") or "",
            }
        )
    return out


def check_parameters(
    values: dict[str, Any], inspected: dict[str, dict[str, Any]], strict: bool
) -> dict[str, Any]:
    for key, value in values.items():
        where = f"parameters.{key}"
        if key not in inspected:
            if strict:
                known = ", ".join(inspected) or "none: the notebook has no parameters cell"
                raise InvalidInput(
                    f"unknown parameter {key!r}; the notebook's parameters are: {known} "
                    "(submit with strict off to inject it anyway)",
                    field=where,
                )
            continue
        base, optional = param_type(inspected[key])
        if value is None and optional:
            continue
        ok = {
            "bool": isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "str": isinstance(value, str),
            "list": isinstance(value, list),
            "dict": isinstance(value, dict),
            "any": True,
        }[base]
        if not ok:
            raise InvalidInput(
                f"parameter {key!r} must be {base}, got {type(value).__name__} {value!r}",
                field=where,
            )
    return values


def coerce_cli_value(raw: str, info: dict[str, Any] | None) -> Any:
    """A ``-p NAME VALUE`` string turned into the parameter's type (for the CLI)."""
    base = param_type(info)[0] if info is not None else "any"
    if base == "str":
        return raw
    if base == "bool" and raw.lower() in ("true", "false", "1", "0", "yes", "no"):
        return raw.lower() in ("true", "1", "yes")
    if base == "int":
        try:
            return int(raw)
        except ValueError:
            return raw
    if base == "float":
        try:
            return float(raw)
        except ValueError:
            return raw
    if raw.lower() in ("none", "null"):
        return None
    value = _literal(raw)
    if value is None:
        import json

        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return value
