"""Who is acting: the owner recorded on every record, and whether they may act on another's.

A request to the server acts as Jupyter Server's current user (set by the handler); the CLI
and ``import labrig`` act as ``$LABRIG_USER`` (which the server sets for the kernels and job
ranks it starts, to their owner), else ``$JUPYTERHUB_USER``, else the operating-system
user. Background work of the server (reconciling, admitting, finalising jobs) checks no owner
at all.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

#: The owner the server gives the kernels and job ranks it starts.
USER_ENV = "LABRIG_USER"


@dataclass(frozen=True)
class Principal:
    """A user, and whether they administer this deployment (see and act on everything)."""

    name: str
    admin: bool = False
    #: Acting through a kernel's or job's API token: never an administrator, whatever the
    #: name (``labrig.tokens``).
    scoped: bool = False

    def owns(self, owner: str | None) -> bool:
        """Whether this user may act on a record of ``owner`` as its owner would.

        Records from before owners were recorded (``None`` or ``""``) belong to everyone: a
        single-user installation upgraded in place keeps acting on its own history.
        """
        return self.admin or not owner or owner == self.name


_acting: ContextVar[Principal | None] = ContextVar("labrig_principal", default=None)


#: Set by JupyterHub in each user's single-user server, and so in its terminals and kernels.
HUB_USER_ENV = "JUPYTERHUB_USER"


def process_user() -> str:
    """The user a process outside the server acts as: ``$LABRIG_USER``, else JupyterHub's
    ``$JUPYTERHUB_USER`` (a hub user's terminal), else the operating-system user."""
    for variable in (USER_ENV, HUB_USER_ENV):
        named = os.environ.get(variable, "").strip()
        if named:
            return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def principal_for(name: str, admin_users: Iterable[str] = ()) -> Principal:
    return Principal(name=name, admin=name in set(admin_users))


def current() -> Principal:
    """Who acts in this context: the request's user in the server, else the process's user."""
    acting = _acting.get()
    return acting if acting is not None else Principal(process_user())


@contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    """Act as ``principal`` within the block (and in threads started with its context)."""
    token = _acting.set(principal)
    try:
        yield principal
    finally:
        _acting.reset(token)


def set_acting(principal: Principal) -> None:
    """Act as ``principal`` for the rest of this task (a request handler's whole life)."""
    _acting.set(principal)
