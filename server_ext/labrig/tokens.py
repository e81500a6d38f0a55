"""API tokens for the kernels and job ranks labrig starts: a credential scoped to one kernel or
one job, never the server's.

A kernel or a rank gets ``LABRIG_SERVER_URL`` and ``LABRIG_API_TOKEN`` instead of the database
URL, and ``import labrig`` and the CLI inside it talk to the server's REST API with the token
(``Authorization: token ...``). The server accepts the token on labrig's own routes only,
acting as the kernel's or job's owner without administrator rights, and deletes it when the
kernel shuts down or the job ends. Only a SHA-256 digest is stored, so the database (or a
backup of it) gives no usable token away.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import delete, select

from .store import Database
from .store.tables import ApiToken

#: Every labrig token starts so; the server tells its own tokens from Jupyter's by it.
PREFIX = "labrig-"
#: What a token is for: the kernel or the job whose id is its subject.
KINDS = ("kernel", "job")


@dataclass(frozen=True)
class TokenGrant:
    """Who a valid token acts as, and for what."""

    owner: str
    kind: str
    subject: str


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX)


class ApiTokens:
    """Mints, checks and revokes tokens in the state database.

    A check is remembered for ``cache_seconds`` so a notebook polling the API costs no database
    read per request; a revocation in this process forgets it at once, one in another server
    on the same database takes effect within ``cache_seconds``.
    """

    def __init__(self, db: Database, cache_seconds: float = 10.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._checked: dict[str, tuple[TokenGrant | None, float]] = {}
        self._lock = threading.Lock()

    def mint(self, owner: str, kind: str, subject: str) -> str:
        """A new token acting as ``owner`` for the kernel or job ``subject`` (blocking)."""
        if kind not in KINDS:
            raise ValueError(f"token kind {kind!r} is not one of {', '.join(KINDS)}")
        token = f"{PREFIX}{kind}-{secrets.token_urlsafe(32)}"
        with self.db.session() as session:
            session.add(ApiToken(digest=digest_of(token), owner=owner, kind=kind, subject=subject))
        return token

    def verify(self, token: str) -> TokenGrant | None:
        """The grant of a live token, or None (blocking on a cache miss)."""
        digest = digest_of(token)
        now = time.monotonic()
        with self._lock:
            cached = self._checked.get(digest)
        if cached is not None and now - cached[1] < self.cache_seconds:
            return cached[0]
        grant = self.db.retrying(lambda: self._read(digest), "checking an API token")
        with self._lock:
            if len(self._checked) > 10_000:  # tokens guessed at random must not grow it forever
                self._checked.clear()
            self._checked[digest] = (grant, now)
        return grant

    def _read(self, digest: str) -> TokenGrant | None:
        with self.db.session() as session:
            row = session.get(ApiToken, digest)
            return None if row is None else TokenGrant(row.owner, row.kind, row.subject)

    def revoke(self, kind: str, subject: str) -> int:
        """Delete the tokens of a kernel or job; how many there were (blocking)."""
        with self.db.session() as session:
            digests = session.scalars(
                select(ApiToken.digest).where(ApiToken.kind == kind, ApiToken.subject == subject)
            ).all()
            if digests:
                session.execute(delete(ApiToken).where(ApiToken.digest.in_(digests)))
        with self._lock:
            for digest in digests:
                self._checked.pop(digest, None)
        return len(digests)
