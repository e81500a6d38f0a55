"""labrig's own API tokens (``labrig.tokens``) on labrig's routes, beside Jupyter's login.

A request carrying ``Authorization: token labrig-...`` comes from a kernel or a job rank that
labrig started: it acts as that kernel's or job's owner, without administrator rights, and
only here (Jupyter's own routes, which never see this identity provider, refuse the token).
Any other request is Jupyter Server's to identify, as before.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from jupyter_server.auth import Authorizer, IdentityProvider, User
from tornado.web import RequestHandler

from ..tokens import ApiTokens, TokenGrant, looks_like_token

HEADER = re.compile(r"(?:token|bearer)\s+(\S+)\s*$", re.IGNORECASE)

#: The Authorizer resources a token may use: labrig's sections, not its administration.
TOKEN_RESOURCES = frozenset(
    {
        "labrig",
        "labrig:jobs",
        "labrig:models",
        "labrig:datasets",
        "labrig:resources",
        "labrig:lineage",
        "labrig:status",
    }
)


def labrig_token_of(handler: RequestHandler) -> str | None:
    """The labrig token the request's Authorization header carries, if any (a token in the
    URL is not read: URLs end up in logs and browser history)."""
    match = HEADER.match(handler.request.headers.get("Authorization", ""))
    if match is None or not looks_like_token(match.group(1)):
        return None
    return match.group(1)


class TokenIdentity:
    """The server's identity provider, seen through one labrig request: a labrig token is
    checked here, anything else goes to the server's provider unchanged."""

    def __init__(self, inner: IdentityProvider, tokens: ApiTokens) -> None:
        self.inner = inner
        self.tokens = tokens
        self.grant: TokenGrant | None = None

    async def get_user(self, handler: RequestHandler) -> User | None:
        token = labrig_token_of(handler)
        if token is not None:
            self.grant = await asyncio.to_thread(self.tokens.verify, token)
            if self.grant is not None:
                return User(username=self.grant.owner)
        # Not one of labrig's live tokens (a server's own token may look like one): the
        # server's provider decides, and refuses a revoked one as it refuses any wrong token.
        user = self.inner.get_user(handler)
        return await user if asyncio.iscoroutine(user) else user  # type: ignore[return-value]

    def is_token_authenticated(self, handler: RequestHandler) -> bool:
        # Scripts with a token need no XSRF cookie, as with Jupyter's own tokens.
        return self.grant is not None or self.inner.is_token_authenticated(handler)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class TokenAuthorizer(Authorizer):
    """What a labrig token may do: labrig's sections, as its owner would; never administer."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource in TOKEN_RESOURCES


TOKEN_AUTHORIZER = TokenAuthorizer()
