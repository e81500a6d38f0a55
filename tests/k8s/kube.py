"""Small Kubernetes helpers shared by the emulator and the fake cluster: resource
quantities, timestamps, label and field selectors, and the three patch formats."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

# --------------------------------------------------------------------------- time


def now_iso() -> str:
    """RFC 3339 with seconds, as metav1.Time serialises."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    """RFC 3339 with microseconds, as metav1.MicroTime serialises."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_nano() -> str:
    """RFC 3339 with nanoseconds, as the CRI log format and kubectl --timestamps print."""
    t = dt.datetime.now(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z"


def parse_time(value: str) -> float:
    """An RFC 3339 timestamp -> POSIX seconds."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", text)
    if match and match.group(2):
        frac = match.group(2)[:7]
        text = match.group(1) + frac + match.group(3)
    return dt.datetime.fromisoformat(text).timestamp()


# --------------------------------------------------------------------------- quantities

_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[numkMGTPE]i?|)$")


def parse_quantity(value: Any) -> Decimal:
    """A Kubernetes resource quantity ("500m", "16Gi", 2, "1e3") -> Decimal."""
    if isinstance(value, bool):
        raise ValueError(f"invalid quantity {value!r}")
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"invalid quantity {value!r}")
    number, suffix = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation as exc:
        raise ValueError(f"invalid quantity {value!r}") from exc
    if suffix[:1] in ("e", "E"):
        return base * (Decimal(10) ** int(suffix[1:]))
    if suffix not in _SUFFIXES:
        raise ValueError(f"invalid quantity {value!r}")
    return base * _SUFFIXES[suffix]


def format_quantity(amount: Decimal, resource: str = "") -> str:
    """A Decimal -> a canonical-looking quantity string ("2", "500m", "4Gi", "1500M")."""
    if amount == amount.to_integral_value():
        whole = int(amount)
        if resource in ("memory", "ephemeral-storage", "storage") or resource.endswith(
            (".memory", ".storage", "ephemeral-storage")
        ):
            for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
                unit = int(_SUFFIXES[suffix])
                if whole and whole % unit == 0:
                    return f"{whole // unit}{suffix}"
        return str(whole)
    milli = amount * 1000
    if milli == milli.to_integral_value():
        return f"{int(milli)}m"
    return f"{int(amount * 10**9)}n"


def resource_list(values: dict[str, Any] | None) -> dict[str, Decimal]:
    return {name: parse_quantity(q) for name, q in (values or {}).items()}


def container_requests(container: dict[str, Any]) -> dict[str, Decimal]:
    """What a container requests: ``requests``, falling back to ``limits`` per resource
    (the API server defaults requests to limits)."""
    resources = container.get("resources") or {}
    out = resource_list(resources.get("limits"))
    out.update(resource_list(resources.get("requests")))
    return out


def pod_requests(spec: dict[str, Any]) -> dict[str, Decimal]:
    """A pod's effective requests: the sum over containers, at least the largest init
    container, plus overhead (as the scheduler and Kueue compute them)."""
    total: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        for name, q in container_requests(container).items():
            total[name] = total.get(name, Decimal(0)) + q
    for container in spec.get("initContainers") or []:
        for name, q in container_requests(container).items():
            if q > total.get(name, Decimal(0)):
                total[name] = q
    for name, q in resource_list(spec.get("overhead")).items():
        total[name] = total.get(name, Decimal(0)) + q
    return {k: v for k, v in total.items() if v != 0}


# --------------------------------------------------------------------------- selectors


class SelectorError(ValueError):
    pass


Requirement = tuple[str, str, tuple[str, ...]]  # (key, operator, values)


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


_SET_RE = re.compile(r"^([^\s!=<>()]+)\s+(in|notin)\s*\(([^()]*)\)$")
_EQ_RE = re.compile(r"^([^\s!=<>()]+)\s*(==|=|!=|>|<)\s*([^\s,()]*)$")
_KEY_RE = re.compile(r"^(!?)\s*([^\s!=<>(),]+)$")


def parse_label_selector(text: str | None) -> list[Requirement]:
    """The full label selector grammar: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``,
    ``a notin (x)``, ``a``, ``!a``, ``a>1``, ``a<1``, joined by commas."""
    requirements: list[Requirement] = []
    if not text:
        return requirements
    for part in _split_top(text):
        match = _SET_RE.match(part)
        if match:
            key, op, raw = match.groups()
            values = tuple(v.strip() for v in raw.split(",") if v.strip())
            if not values and op == "in":
                raise SelectorError(
                    "unable to parse requirement: for 'in', 'notin' operators, values set can't "
                    f"be empty ({part})"
                )
            requirements.append((key, op, values))
            continue
        match = _EQ_RE.match(part)
        if match:
            key, op, value = match.groups()
            op = {"=": "=", "==": "=", "!=": "!=", ">": "gt", "<": "lt"}[op]
            if op in ("gt", "lt") and not re.match(r"^-?\d+$", value):
                raise SelectorError(
                    "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an "
                    f"integer ({part})"
                )
            requirements.append((key, op, (value,)))
            continue
        match = _KEY_RE.match(part)
        if match:
            neg, key = match.groups()
            requirements.append((key, "!" if neg else "exists", ()))
            continue
        raise SelectorError(
            f"unable to parse requirement: found '{part}', expected: in, notin, =, ==, !=, gt, lt"
        )
    return requirements


def labels_match(requirements: list[Requirement], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    for key, op, values in requirements:
        has = key in labels
        value = labels.get(key)
        if op == "=" and value != values[0]:
            return False
        if op == "!=" and has and value == values[0]:
            return False
        if op == "in" and (not has or value not in values):
            return False
        if op == "notin" and has and value in values:
            return False
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
        if op in ("gt", "lt"):
            if not has or not re.match(r"^-?\d+$", value or ""):
                return False
            if op == "gt" and not int(value or 0) > int(values[0]):
                return False
            if op == "lt" and not int(value or 0) < int(values[0]):
                return False
    return True


def parse_field_selector(text: str | None) -> list[tuple[str, str, str]]:
    """``metadata.name=x,status.phase!=Running`` -> [(field, op, value)]."""
    out: list[tuple[str, str, str]] = []
    if not text:
        return out
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        match = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", part)
        if not match:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = match.groups()
        out.append((field.strip(), "!=" if op == "!=" else "=", value.strip()))
    return out


def field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(
    requirements: list[tuple[str, str, str]], obj: dict[str, Any], aliases: dict[str, str]
) -> bool:
    for field, op, value in requirements:
        actual = field_value(obj, aliases.get(field, field))
        if (actual == value) != (op == "="):
            return False
    return True


# --------------------------------------------------------------------------- patches


class PatchError(ValueError):
    pass


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for part in parts:
        if isinstance(cur, list):
            cur = cur[int(part)]
        elif isinstance(cur, dict):
            cur = cur[part]
        else:
            raise KeyError(part)
    return cur


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid operation {op!r}")
        kind = op["op"]
        parts = _pointer(op["path"])
        try:
            if kind == "test":
                if _walk(doc, parts) != op.get("value"):
                    raise PatchError(f"testing value {op['path']} failed")
                continue
            if kind in ("move", "copy"):
                value = copy.deepcopy(_walk(doc, _pointer(op["from"])))
                if kind == "move":
                    doc = json_patch(doc, [{"op": "remove", "path": op["from"]}])
                doc = json_patch(doc, [{"op": "add", "path": op["path"], "value": value}])
                continue
            if not parts:
                if kind in ("add", "replace"):
                    doc = copy.deepcopy(op.get("value"))
                    continue
                raise PatchError("cannot remove the whole document")
            parent = _walk(doc, parts[:-1])
            last = parts[-1]
            if kind == "add":
                if isinstance(parent, list):
                    index = len(parent) if last == "-" else int(last)
                    if index > len(parent):
                        raise PatchError(f"add operation index out of range: {op['path']}")
                    parent.insert(index, copy.deepcopy(op.get("value")))
                else:
                    parent[last] = copy.deepcopy(op.get("value"))
            elif kind == "remove":
                if isinstance(parent, list):
                    del parent[int(last)]
                else:
                    del parent[last]
            elif kind == "replace":
                if isinstance(parent, list):
                    parent[int(last)] = copy.deepcopy(op.get("value"))
                else:
                    if last not in parent:
                        raise PatchError(
                            f"replace operation does not apply: doc is missing key: {op['path']}"
                        )
                    parent[last] = copy.deepcopy(op.get("value"))
            else:
                raise PatchError(f"unknown operation {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            if isinstance(exc, PatchError):
                raise
            raise PatchError(
                f"{kind} operation does not apply: doc is missing path: {op['path']}"
            ) from exc
    return doc


# patchMergeKey of the lists that strategic merge patch merges (core types).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "conditions": "type",
    "ownerReferences": "uid",
    "imagePullSecrets": "name",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "envFrom": None,
}
_MERGE_PRIMITIVE = {"finalizers"}


def strategic_merge_patch(target: Any, patch: Any, field: str = "") -> Any:
    """A subset of strategic merge patch for core kinds: maps merge, lists named in
    ``_MERGE_KEYS`` merge by their key (``$patch: delete`` removes an item), ``finalizers``
    merge as a set, other lists are replaced; ``$patch: replace`` replaces a map."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [x for x in result.get(name) or [] if x not in (value or [])]
            continue
        if key.startswith("$setElementOrder/") or key.startswith("$retainKeys"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and key in _MERGE_PRIMITIVE:
            current = list(result.get(key) or [])
            result[key] = current + [x for x in value if x not in current]
        elif isinstance(value, list) and _MERGE_KEYS.get(key):
            merge_key = _MERGE_KEYS[key]
            assert merge_key is not None
            current = [copy.deepcopy(x) for x in result.get(key) or []]
            for item in value:
                if not isinstance(item, dict) or merge_key not in item:
                    current.append(copy.deepcopy(item))
                    continue
                index = next(
                    (
                        i
                        for i, x in enumerate(current)
                        if isinstance(x, dict) and x.get(merge_key) == item[merge_key]
                    ),
                    None,
                )
                if item.get("$patch") == "delete":
                    if index is not None:
                        del current[index]
                elif index is None:
                    current.append({k: v for k, v in item.items() if k != "$patch"})
                else:
                    current[index] = strategic_merge_patch(current[index], item, key)
            result[key] = current
        else:
            result[key] = copy.deepcopy(value)
    return result


PATCH_TYPES: dict[str, Callable[[Any, Any], Any]] = {
    "application/merge-patch+json": merge_patch,
    "application/json-patch+json": json_patch,
    "application/strategic-merge-patch+json": strategic_merge_patch,
}


def clone(obj: Any) -> Any:
    """A deep copy of JSON data (several times faster than copy.deepcopy)."""
    return json.loads(json.dumps(obj))


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
