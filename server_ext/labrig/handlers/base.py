"""What every labrig handler shares: authentication, error mapping, JSON bodies, pagination."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from jupyter_server.auth import (
    Authorizer,
    IdentityProvider,
    LegacyIdentityProvider,
    PasswordIdentityProvider,
)
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado.httputil import responses
from tornado.web import HTTPError, RequestHandler

from .. import identity
from ..errors import (
    AccessDenied,
    Conflict,
    InvalidInput,
    LabrigError,
    NotFound,
    StorageFull,
    Unavailable,
)
from ..services import Services
from ..store import Page, PageRequest
from .token_auth import TOKEN_AUTHORIZER, TokenIdentity

P = ParamSpec("P")
R = TypeVar("R")

API_PREFIX = "labrig/api/v1"

#: The one place where domain errors become HTTP statuses.
STATUS_BY_ERROR: dict[type[LabrigError], int] = {
    InvalidInput: 400,
    NotFound: 404,
    Conflict: 409,
    Unavailable: 503,
    AccessDenied: 403,
    StorageFull: 507,
}


def http_status(error: LabrigError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


#: Jupyter Server's own identity providers, whose users are not people (see ``request_user_name``).
SINGLE_USER_PROVIDERS = (IdentityProvider, PasswordIdentityProvider, LegacyIdentityProvider)


class LabrigHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every REST handler; each verb is also ``@authenticated`` and ``@authorized``."""

    #: The Authorizer resource of this handler's section (``labrig:jobs``, ...), so a
    #: deployment's Authorizer can grant sections separately, as JupyterHub's scopes do.
    auth_resource = "labrig"

    async def prepare(self) -> None:  # type: ignore[override]  # as APIHandler.prepare
        await super().prepare()
        # Every service call of this request (in threads too) acts as the request's user.
        identity.set_acting(await self.principal())

    _token_identity: TokenIdentity | None = None

    @property
    def identity_provider(self) -> TokenIdentity:  # type: ignore[override]
        """The server's identity provider, which here also knows labrig's own API tokens."""
        if self._token_identity is None:
            server_provider = super().identity_provider
            self._token_identity = TokenIdentity(server_provider, self.services.tokens)
        return self._token_identity

    @property
    def authorizer(self) -> Authorizer:
        if self.identity_provider.grant is not None:
            return TOKEN_AUTHORIZER
        return super().authorizer

    async def principal(self) -> identity.Principal:
        grant = self.identity_provider.grant
        if grant is not None:
            # A kernel's or job's token acts as its owner, never as an administrator.
            return identity.Principal(name=grant.owner, scoped=True)
        user = self.current_user
        name = self.request_user_name()
        settings = self.services.app
        admin = name in settings.admin_users
        if not admin and settings.admins_from_authorizer and user:
            allowed = self.authorizer.is_authorized(self, user, "write", "labrig:admin")
            admin = bool(await allowed if inspect.isawaitable(allowed) else allowed)
        return identity.Principal(name=name, admin=admin)

    def request_user_name(self) -> str:
        """The request's user name. Jupyter Server's own providers (one token or password, one
        person) name nobody: each cookie-less token request is a new made-up "Anonymous" user,
        so there the server's own user acts (the OS user or $LABRIG_USER, as the CLI and the
        kernels do). A deployment's provider (JupyterHub, a proxy's) names real users."""
        if type(self.identity_provider.inner) in SINGLE_USER_PROVIDERS:
            return identity.process_user()
        user = self.current_user
        return str(getattr(user, "username", None) or getattr(user, "name", None) or user or "")

    @property
    def services(self) -> Services:
        services: Services = self.settings["labrig_services"]
        return services

    async def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run blocking service code (database, files) off the event loop.

        A read waits out a database server that is restarting (up to
        ``LabrigApp.database_retry_seconds``), since running it again changes nothing; a write
        fails at once with a 503 naming the database, its transaction rolled back whole.
        """
        if self.request.method not in ("GET", "HEAD"):
            return await asyncio.to_thread(fn, *args, **kwargs)
        what = f"{self.request.method} {self.request.path}"
        read = functools.partial(fn, *args, **kwargs)
        return await asyncio.to_thread(self.services.db.retrying, read, what)

    def query_value(self, name: str) -> str | None:
        """A query parameter given at most once and not empty; None when absent (Tornado would
        keep the last of several, and an empty one would quietly mean the default)."""
        values = self.get_query_arguments(name, strip=False)
        if len(values) > 1:
            raise InvalidInput(f"{name} was given {len(values)} times; give it once", field=name)
        if values and not values[0].strip():
            raise InvalidInput(f"{name} is empty: give a value or leave it out", field=name)
        return values[0] if values else None

    def page_request(self) -> PageRequest:
        return PageRequest.parse(self.query_value("limit"), self.query_value("page_token"))

    def json_body(self) -> dict[str, Any]:
        raw = self.request.body
        if not raw:
            raise InvalidInput("the request needs a JSON object as its body", field="body")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise InvalidInput(f"the request body is not valid JSON: {err}", field="body") from err
        if not isinstance(body, dict):
            raise InvalidInput(
                f"the request body must be a JSON object, not {type(body).__name__}", field="body"
            )
        return body

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(value))

    def write_page(self, page: Page[Any]) -> None:
        self.write_json({"items": page.items, "next_page_token": page.next_page_token})

    def allowed_methods(self) -> list[str]:
        """The verbs this handler answers, as a 405's Allow header lists them (RFC 9110)."""
        return [
            method
            for method in self.SUPPORTED_METHODS
            if getattr(type(self), method.lower()) is not getattr(RequestHandler, method.lower())
        ]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        error = kwargs.get("exc_info", (None, None, None))[1]
        reply: dict[str, Any]
        if isinstance(error, LabrigError):
            self.set_status(http_status(error))
            reply = {"message": error.message, "reason": error.reason}
            if error.field:
                reply["field"] = error.field
        elif isinstance(error, HTTPError):
            message = error.log_message or responses.get(status_code, "error")
            reply = {"message": message, "reason": error.reason or responses.get(status_code)}
        else:
            reply = {
                "message": "labrig hit an internal error; the server log has the details",
                "reason": "internal",
            }
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(reply))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, LabrigError):
            self.log.info("%s %s: %s", self.request.method, self.request.path, value.message)
        else:
            super().log_exception(typ, value, tb)
