"""Who acts, as the models, datasets and resources sections check it.

Inside the server the request's user comes with ``admin`` already decided (``LabrigApp.
admin_users`` or the Authorizer); the CLI and ``import labrig`` act as ``$LABRIG_USER`` or the
operating-system user, who is an administrator when ``admin_users`` names them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from . import identity


def acting(admin_users: Iterable[str] = ()) -> identity.Principal:
    """The acting user, an administrator also when ``admin_users`` names them."""
    principal = identity.current()
    if principal.admin or principal.scoped or principal.name not in set(admin_users):
        return principal
    return replace(principal, admin=True)
