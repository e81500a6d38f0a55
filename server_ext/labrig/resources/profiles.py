"""What a notebook may ask for: the request itself, the admin's profiles (KubeSpawner
``profile_list`` style) with their bounds, and how quantities are shown in messages."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from traitlets import TraitError

from ..errors import InvalidInput
from .quantity import format_bytes, format_cpus, parse_bytes, parse_count, parse_cpus

REQUEST_FIELDS = {"profile", "cpus", "memory", "gpus", "gpu_type", "disk"}
PROFILE_KEYS = {
    "slug",
    "display_name",
    "description",
    "default",
    "cpu",
    "memory",
    "gpus",
    "gpu_type",
    "disk",
    "allow_custom",
    "bounds",
}
BOUND_KEYS = {"cpu", "memory", "gpus", "disk"}
DEFAULT_PROFILES: list[dict[str, Any]] = [
    {
        "slug": "small",
        "display_name": "Small",
        "description": "1 CPU, 2 GiB memory, 5 GiB scratch",
        "cpu": 1,
        "memory": "2Gi",
        "disk": "5Gi",
    },
    {
        "slug": "medium",
        "display_name": "Medium",
        "description": "2 CPUs, 4 GiB memory, 10 GiB scratch",
        "cpu": 2,
        "memory": "4Gi",
        "disk": "10Gi",
    },
    {
        "slug": "custom",
        "display_name": "Custom",
        "description": "Your own values, within the host's capacity and your quota",
        "default": True,
        "cpu": 1,
        "memory": "2Gi",
        "disk": "5Gi",
        "allow_custom": True,
    },
]


@dataclass(frozen=True)
class ResourceRequest:
    """What a notebook's kernel should get; ``None`` means no limit."""

    notebook_path: str
    profile: str | None
    cpus: float | None
    memory: int | None
    gpus: int
    gpu_type: str | None
    disk: int | None

    def json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Profile:
    slug: str
    display_name: str
    description: str
    default: bool
    cpus: float | None
    memory: int | None
    gpus: int
    gpu_type: str | None
    disk: int | None
    allow_custom: bool
    bounds: dict[str, dict[str, float | int]]

    def json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "display_name": self.display_name,
            "description": self.description,
            "default": self.default,
            "cpus": self.cpus,
            "memory": self.memory,
            "gpus": self.gpus,
            "gpu_type": self.gpu_type,
            "disk": self.disk,
            "allow_custom": self.allow_custom,
            "bounds": self.bounds,
        }


def parse_profile(raw: Any, index: int) -> Profile:
    where = f"profile_list[{index}]"
    if not isinstance(raw, dict):
        raise TraitError(f"{where} must be a dict")
    unknown = set(raw) - PROFILE_KEYS
    if unknown:
        raise TraitError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(PROFILE_KEYS)}")
    name = raw.get("display_name")
    if not isinstance(name, str) or not name:
        raise TraitError(f"{where} needs a display_name")
    slug = raw.get("slug") or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    try:
        bounds: dict[str, dict[str, float | int]] = {}
        for key, bound in (raw.get("bounds") or {}).items():
            if key not in BOUND_KEYS or not isinstance(bound, dict) or set(bound) - {"min", "max"}:
                raise TraitError(f"{where}.bounds: use {{cpu|memory|gpus|disk: {{min, max}}}}")
            parse = {"cpu": parse_cpus, "gpus": None}.get(key, parse_bytes)
            bounds[key] = {
                end: (
                    parse_count(value, field=f"{where}.bounds.{key}")
                    if parse is None
                    else parse(value, field=f"{where}.bounds.{key}")
                )
                for end, value in bound.items()
            }
        return Profile(
            slug=slug,
            display_name=name,
            description=str(raw.get("description", "")),
            default=bool(raw.get("default", False)),
            cpus=None if raw.get("cpu") is None else parse_cpus(raw["cpu"], field=f"{where}.cpu"),
            memory=None
            if raw.get("memory") is None
            else parse_bytes(raw["memory"], field=f"{where}.memory"),
            gpus=parse_count(raw.get("gpus", 0), field=f"{where}.gpus"),
            gpu_type=raw.get("gpu_type"),
            disk=None
            if raw.get("disk") is None
            else parse_bytes(raw["disk"], field=f"{where}.disk"),
            allow_custom=bool(raw.get("allow_custom", False)),
            bounds=bounds,
        )
    except InvalidInput as err:
        raise TraitError(err.message) from err


def show_quantity(field: str, value: Any) -> str:
    if value is None:
        return "-"
    if field in ("memory", "disk"):
        return format_bytes(int(value))
    if field == "cpus":
        return format_cpus(float(value))
    return str(int(value)) if float(value).is_integer() else str(value)


def default_of(profiles: list[Profile]) -> Profile | None:
    """The profile marked default, else the first one."""
    return next((p for p in profiles if p.default), profiles[0] if profiles else None)


def pick_profile(profiles: list[Profile], slug: Any) -> Profile:
    """The profile named ``slug``; the default one when ``slug`` is None."""
    by_slug = {p.slug: p for p in profiles}
    if slug is None:
        profile = default_of(profiles)
        if profile is None:
            raise InvalidInput("no profiles are configured", field="profile")
        return profile
    if not isinstance(slug, str) or slug not in by_slug:
        raise InvalidInput(
            f"unknown profile {slug!r}; profiles: {', '.join(by_slug) or 'none'}",
            field="profile",
        )
    return by_slug[slug]


def request_from(
    path: str, profile: Profile, profiles: list[Profile], body: dict[str, Any]
) -> ResourceRequest:
    """The profile's values, overridden by the body's own where the profile allows custom
    values, within the profile's bounds."""
    custom = {key: body[key] for key in REQUEST_FIELDS - {"profile"} if key in body}
    if custom and not profile.allow_custom:
        first = sorted(custom)[0]
        allowed = [p.slug for p in profiles if p.allow_custom]
        raise InvalidInput(
            f"profile {profile.slug!r} does not allow custom values ({first}); "
            + (f"use profile {allowed[0]!r}" if allowed else "pick a profile as it is"),
            field=first,
        )
    cpus = parse_cpus(custom["cpus"]) if custom.get("cpus") is not None else profile.cpus
    memory = parse_bytes(custom["memory"]) if custom.get("memory") is not None else profile.memory
    disk = (
        parse_bytes(custom["disk"], field="disk")
        if custom.get("disk") is not None
        else profile.disk
    )
    gpus = parse_count(custom.get("gpus", profile.gpus), field="gpus")
    gpu_type = custom.get("gpu_type", profile.gpu_type)
    if gpu_type is not None and (not isinstance(gpu_type, str) or not gpu_type):
        raise InvalidInput("gpu_type must be a GPU model name or null", field="gpu_type")
    check_bounds(profile, {"cpu": cpus, "memory": memory, "gpus": gpus, "disk": disk})
    return ResourceRequest(path, profile.slug, cpus, memory, gpus, gpu_type, disk)


def check_bounds(profile: Profile, values: dict[str, float | int | None]) -> None:
    """Refuse a value outside the profile's bounds (``values`` keyed like ``bounds``)."""
    for key, bound in profile.bounds.items():
        value = values[key]
        field = "cpus" if key == "cpu" else key
        if value is None:
            continue
        if "min" in bound and value < bound["min"]:
            raise InvalidInput(
                f"{field} {show_quantity(field, value)} is below profile {profile.slug!r}'s "
                f"minimum of {show_quantity(field, bound['min'])}",
                field=field,
            )
        if "max" in bound and value > bound["max"]:
            raise InvalidInput(
                f"{field} {show_quantity(field, value)} is above profile {profile.slug!r}'s "
                f"maximum of {show_quantity(field, bound['max'])}",
                field=field,
            )
