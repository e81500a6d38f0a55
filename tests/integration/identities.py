"""Several users on one test server: each has their own token, and ``as_user(name)`` calls the
API as that user.

A test module takes its fixtures ``as_user`` and ``jp_server_config`` by importing them (under
other names, so a test's ``as_user`` argument does not shadow an import)::

    from identities import as_user_fixture, server_config_fixture  # noqa: F401 - fixtures

``alice`` and ``bob`` are ordinary users, ``admin`` is in ``LabrigApp.admin_users``. The
server runs with ``TokenUsers`` (an ``IdentityProvider`` mapping each token to its user) and
``SectionAuthorizer`` (Jupyter Server's ``Authorizer``, which by default allows everything;
``deny_sections`` or ``grant_admin`` make a test deployment's policy).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth import Authorizer, IdentityProvider, User
from tornado.httpclient import HTTPResponse
from tornado.web import RequestHandler
from traitlets import Dict, List, Unicode

API = ("labrig", "api", "v1")
USERS = ("alice", "bob", "admin")
ADMIN = "admin"
TOKENS = {f"token-of-{name}": name for name in USERS}


class TokenUsers(IdentityProvider):
    """Each token of ``users`` is one user: a request's token says who makes it."""

    users = Dict(Unicode(), config=True, help="User name of each token.")

    async def get_user_token(self, handler: RequestHandler) -> User | None:
        name = self.users.get(self.get_token(handler) or "")
        return User(username=name) if name else None


class SectionAuthorizer(Authorizer):
    """Allows everything except the sections named in ``deny_sections`` for their user; grants
    ``labrig:admin`` (what ``admins_from_authorizer`` asks) only to ``grant_admin``."""

    deny_sections = Dict(
        List(Unicode()), config=True, help="Authorizer resources refused to each user."
    )
    grant_admin = List(Unicode(), config=True, help="Users allowed 'write' on 'labrig:admin'.")

    def is_authorized(
        self, handler: RequestHandler, user: User, action: str, resource: str
    ) -> bool:
        if resource == "labrig:admin":
            return user.username in self.grant_admin
        return resource not in self.deny_sections.get(user.username, [])


def server_config(
    labrig_env: Path, labrig: dict[str, Any] | None = None, authorizer: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The test server's configuration: ``labrig`` adds ``LabrigApp`` settings, ``authorizer``
    ``SectionAuthorizer`` ones (a module overrides ``jp_server_config`` with it)."""
    return {
        "ServerApp": {
            "jpserver_extensions": {"labrig": True},
            "identity_provider_class": TokenUsers,
            "authorizer_class": SectionAuthorizer,
        },
        "TokenUsers": {"users": TOKENS},
        "SectionAuthorizer": authorizer or {},
        "LabrigApp": {"data_dir": str(labrig_env), "admin_users": [ADMIN], **(labrig or {})},
    }


@pytest.fixture(name="jp_server_config")
def server_config_fixture(labrig_env: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    """``server_config``; a test may add to it with
    ``@pytest.mark.parametrize("jp_server_config", [{"labrig": {...}}], indirect=True)``."""
    return server_config(labrig_env, **getattr(request, "param", {}))


@dataclass
class Caller:
    """Requests as one user: ``fetch`` as ``jp_fetch`` does (never raising on a 4xx), ``api``
    a labrig API path, answering ``(status, parsed JSON)``."""

    name: str
    jp_fetch: Callable[..., Awaitable[HTTPResponse]]

    async def fetch(self, *parts: str, **kwargs: Any) -> HTTPResponse:
        token = next(token for token, name in TOKENS.items() if name == self.name)
        headers = {"Authorization": f"token {token}", **kwargs.pop("headers", {})}
        return await self.jp_fetch(*parts, headers=headers, raise_error=False, **kwargs)

    async def api(self, path: str, method: str = "GET", body: Any = None, **params: Any) -> Any:
        kwargs: dict[str, Any] = {"method": method}
        if body is not None:
            kwargs["body"] = body if isinstance(body, str | bytes) else json.dumps(body)
        if params:
            kwargs["params"] = params
        response = await self.fetch(*API, path, **kwargs)
        return response.code, json.loads(response.body) if response.body else None

    async def ended_job(self, job_id: str, seconds: float = 180.0) -> dict[str, Any]:
        """The job once its status is final, read as this user every 0.2 s."""
        from labrig.jobs.runtime import FINAL

        for _ in range(int(seconds / 0.2)):
            code, job = await self.api(f"jobs/{job_id}")
            assert code == 200, job
            if job["status"] in FINAL:
                return dict(job)
            await asyncio.sleep(0.2)
        raise AssertionError(f"job {job_id} did not end: {job}")


@pytest.fixture(name="as_user")
def as_user_fixture(jp_fetch: Callable[..., Awaitable[HTTPResponse]]) -> Callable[[str], Caller]:
    """``as_user("alice").api("jobs")``: the API as one of ``USERS``."""
    return lambda name: Caller(name, jp_fetch)
