"""The faults a test turns on: RBAC denials and CRDs that look uninstalled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..store import ApiError, ResourceType
from .routing import Route


@dataclass
class Faults:
    denied: list[tuple[str, str, str]] = field(default_factory=list)  # verb, resource, group
    uninstalled: set[str] = field(default_factory=set)  # resource type keys

    def installed(self, rtype: ResourceType) -> bool:
        return rtype.key not in self.uninstalled

    def check_rbac(self, user: str, verb: str, route: Route) -> None:
        """403 Forbidden, worded as the RBAC authorizer does, when a ``deny`` rule matches."""
        resource = route.rtype.plural + (f"/{route.subresource}" if route.subresource else "")
        for d_verb, d_resource, d_group in self.denied:
            if d_verb not in ("*", verb) or d_resource not in ("*", resource):
                continue
            if d_group not in ("*", route.rtype.group):
                continue
            target = f'{route.rtype.key} "{route.name}"' if route.name else route.rtype.key
            scope = (
                f'in the namespace "{route.namespace}"'
                if route.namespace
                else "at the cluster scope"
            )
            details: dict[str, Any] = {"group": route.rtype.group, "kind": route.rtype.plural}
            if route.name:
                details = {"name": route.name, **details}
            raise ApiError(
                403,
                "Forbidden",
                f'{target} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
                f'in API group "{route.rtype.group}" {scope}',
                details,
            )
