"""Who may change the registry: models are readable by everyone; registering versions, moving
aliases and deleting follow a policy each (``LabrigApp.model_register_policy``,
``model_alias_policy``, ``model_delete_policy``).

A policy is ``owner`` (the model's owner, the user who created it; for deleting a version also
whoever registered that version), ``anyone``, or ``admins``. Administrators may always act. A
model from before owners were recorded has none and stays everyone's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .. import identity
from ..errors import AccessDenied
from ..owners import acting

#: What each action is called in a refusal, and the setting that governs it.
ACTIONS = {
    "register": ("register versions of", "model_register_policy"),
    "alias": ("move or remove the aliases of", "model_alias_policy"),
    "delete": ("delete", "model_delete_policy"),
}


@dataclass(frozen=True)
class ModelPolicy:
    """The three policies and the deployment's administrators (``LabrigApp.admin_users``)."""

    register: str = "anyone"
    alias: str = "owner"
    delete: str = "owner"
    admin_users: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, register: str, alias: str, delete: str, admin_users: Iterable[str]) -> ModelPolicy:
        return cls(register, alias, delete, frozenset(admin_users))

    def acting(self) -> identity.Principal:
        return acting(self.admin_users)

    def check(
        self, action: str, model: str, owner: str | None, *, version_user: str | None = None
    ) -> identity.Principal:
        """The acting user, when ``action`` on ``model`` (owned by ``owner``) is theirs to do;
        else ``AccessDenied`` naming the rule. ``version_user``: who registered the version
        being deleted (they may delete it under the ``owner`` policy too)."""
        principal = self.acting()
        policy = getattr(self, action)
        if principal.admin or policy == "anyone":
            return principal
        verb, setting = ACTIONS[action]
        if policy == "admins":
            raise AccessDenied(
                f"only administrators may {verb} model {model!r} "
                f"(LabrigApp.{setting} is 'admins'; LabrigApp.admin_users names them)"
            )
        if principal.owns(owner) or (version_user and principal.name == version_user):
            return principal
        whose = f"{model!r}'s owner, {owner}"
        if version_user:
            whose += f", or the version's registrant, {version_user}"
        raise AccessDenied(
            f"{principal.name or 'this user'} may not {verb} model {model!r}: only {whose}, or an "
            f"administrator may (LabrigApp.{setting} is 'owner')"
        )
