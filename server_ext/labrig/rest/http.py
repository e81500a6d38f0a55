"""The one HTTP seam of REST mode: requests to ``<LABRIG_SERVER_URL>labrig/api/v1/`` with the
process's scoped token, and error responses turned back into labrig's own errors.

The server answers every error as JSON ``{"message", "reason", "field"?}`` (``errors.py``,
``handlers.base``); the client raises the labrig error of that ``reason`` with the server's
message, so a notebook or a terminal shows exactly what the panel would. Two failures have no
such answer and get a message of their own: a server that cannot be reached, and a token the
server refuses (wrong, or revoked when its kernel or job ended).

``requests`` is imported when the first request is made: ``labrig --help`` never pays for it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import (
    AccessDenied,
    CapacityExceeded,
    Conflict,
    InvalidInput,
    LabrigError,
    NotFound,
    StorageFull,
    Unavailable,
)
from ..jobs.env_names import API_TOKEN_ENV, SERVER_URL_ENV

if TYPE_CHECKING:
    import requests

API_PATH = "labrig/api/v1/"
#: Seconds to wait for the server to connect, and for each read of its answer (an upload's
#: answer waits for the registration instead: see ``ApiClient.send``).
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 600.0

#: The labrig error class of each ``reason`` the server sends (the inverse of ``STATUS_BY_ERROR``).
ERROR_BY_REASON: dict[str, type[LabrigError]] = {
    cls.reason: cls
    for cls in (
        InvalidInput,
        NotFound,
        Conflict,
        CapacityExceeded,
        Unavailable,
        StorageFull,
        AccessDenied,
    )
}
#: The class for a status whose reason is not one of labrig's (Tornado's own errors).
ERROR_BY_STATUS: dict[int, type[LabrigError]] = {
    400: InvalidInput,
    404: NotFound,
    405: InvalidInput,
    409: Conflict,
    413: StorageFull,
    507: StorageFull,
}


class TokenRefused(AccessDenied):
    """The server refused this process's token: wrong, or revoked with its kernel or job."""

    reason = "token_refused"


class ServerUnreachable(Unavailable):
    """No answer from the Jupyter server at ``LABRIG_SERVER_URL``."""

    reason = "server_unreachable"


class NotOverRest(LabrigError):
    """What needs the state database or the server's host, asked of a process in REST mode."""

    reason = "not_over_rest"


class MissingOverRest(NotOverRest, AttributeError):
    """An attribute of the in-process services that REST mode does not offer (still an
    ``AttributeError``, so ``hasattr`` and ``getattr(obj, name, default)`` keep working)."""


class RefusesWhatRestLacks:
    """Answers a public attribute the REST-backed object lacks with a ``MissingOverRest``
    saying why and where to use it, rather than a bare ``AttributeError``."""

    #: How the object is reached from a notebook, for the message.
    reached_as = "labrig.connect()"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise MissingOverRest(
            f"{self.reached_as}.{name} is not available here: this process works through the "
            f"Jupyter server's REST API (${SERVER_URL_ENV} and ${API_TOKEN_ENV} are set, as in a "
            "kernel or job labrig started) and has no access to labrig's database or the "
            "server's host. Use it in the server's terminal (or ask an administrator)"
        )


def rest_settings() -> tuple[str, str] | None:
    """(server URL, token) when both are set in this process's environment: REST mode."""
    url = os.environ.get(SERVER_URL_ENV, "").strip()
    token = os.environ.get(API_TOKEN_ENV, "").strip()
    if url and token:
        return url, token
    return None


def refused_token_message(server_url: str) -> str:
    return (
        f"the Jupyter server at {server_url} refused this process's labrig token "
        f"(${API_TOKEN_ENV}): it is wrong, or it was revoked because the kernel or job it was "
        "made for has ended. Restart the notebook's kernel (it gets a new token), or run the "
        "command in a Jupyter terminal"
    )


def unreachable_message(server_url: str, detail: str) -> str:
    return (
        f"cannot reach the Jupyter server at {server_url} ({detail}). Is the Jupyter server "
        f"running? If the kernel or job this process belongs to has ended, its token "
        f"(${API_TOKEN_ENV}) ended with it: restart the kernel, or unset ${SERVER_URL_ENV} and "
        f"${API_TOKEN_ENV} to work on the database directly where the server runs"
    )


def error_from_response(server_url: str, status: int, raw: bytes) -> LabrigError:
    """The labrig error an error response stands for, with the server's own message."""
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = body.get("message")
    reason = body.get("reason")
    field = body.get("field") if isinstance(body.get("field"), str) else None
    if status == 401 or (status == 403 and reason not in ERROR_BY_REASON and _generic(message)):
        return TokenRefused(refused_token_message(server_url))
    if not isinstance(message, str) or not message:
        message = f"the Jupyter server at {server_url} answered HTTP {status}"
    cls = ERROR_BY_REASON.get(str(reason)) or ERROR_BY_STATUS.get(status)
    if cls is None:
        cls = AccessDenied if status == 403 else Unavailable
    if cls is CapacityExceeded:
        return CapacityExceeded(
            message,
            field=field,
            free=body.get("free"),
            total=body.get("total"),
            holders=body.get("holders"),
        )
    return cls(message, field=field)


def _generic(message: Any) -> bool:
    """Whether a 403 is Jupyter's answer to a token it does not know: a bare "Forbidden", or,
    for a POST, the missing XSRF cookie that only a request not authenticated by its token
    needs (this client sends no cookies). An Authorizer's refusal names what was refused."""
    if not isinstance(message, str):
        return True
    text = message.strip().lower()
    return text in ("", "forbidden") or "xsrf" in text


def api_path(*parts: str) -> str:
    """A path under the API with each part URL-quoted (slashes inside notebook paths kept)."""
    return "/".join(quote(part, safe="/") for part in parts)


class ApiClient:
    """Synchronous requests to labrig's REST API as this process's token."""

    def __init__(self, server_url: str, token: str) -> None:
        self.server_url = server_url if server_url.endswith("/") else server_url + "/"
        self.api_url = self.server_url + API_PATH
        self._token = token
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> ApiClient:
        found = rest_settings()
        if found is None:
            raise InvalidInput(f"set both ${SERVER_URL_ENV} and ${API_TOKEN_ENV} for REST mode")
        return cls(*found)

    def session(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                import requests

                session = requests.Session()
                session.headers["Authorization"] = f"token {self._token}"
                # Neither a proxy configured for the internet nor a ~/.netrc entry (which would
                # replace the header) comes between this process and its server.
                session.trust_env = False
                self._session = session
            return self._session

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | Iterable[tuple[str, Any]] | None = None,
        data: IO[bytes] | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        wait: bool = False,
    ) -> requests.Response:
        """The response to one request; an error response raises its labrig error.

        ``wait``: no limit on waiting for the answer, for a request whose answer comes when
        its work is done (a registration storing gigabytes); a timeout would report a failure
        while the server goes on and succeeds."""
        import requests

        url = self.api_url + path
        try:
            response = self.session().request(
                method,
                url,
                json=body,
                params=params,
                data=data,
                headers=headers,
                stream=stream,
                timeout=(CONNECT_TIMEOUT, None if wait else READ_TIMEOUT),
            )
        except requests.ConnectionError as err:
            raise ServerUnreachable(
                unreachable_message(self.server_url, _first_line(err))
            ) from None
        except requests.Timeout:
            raise ServerUnreachable(
                unreachable_message(self.server_url, "it did not answer in time")
            ) from None
        if response.status_code >= 400:
            raise error_from_response(self.server_url, response.status_code, response.content)
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of one request (None for an empty one, e.g. 204)."""
        response = self.send(method, path, **kwargs)
        if not response.content:
            return None
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body=body)

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, body=body)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)


def _first_line(err: BaseException) -> str:
    """The reason of a connection error, without urllib3's nesting of wrappers."""
    text = str(err)
    for marker in ("Connection refused", "Name or service not known", "timed out"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:200] if text else type(err).__name__
