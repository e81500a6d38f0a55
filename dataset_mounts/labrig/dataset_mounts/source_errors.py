"""What went wrong at a source, as a domain error: access denied, not found, changed since it was
listed, unreachable, disk full, or otherwise failed; each names the dataset and what to do, with
credentials masked."""

from __future__ import annotations

import errno
import socket

from labrig.errors import AccessDenied, Conflict, InvalidInput, LabrigError, NotFound, StorageFull

from .source_options import Secrets, mask


class SourceChanged(Conflict):
    """An object changed at the source after the manifest listed it."""

    reason = "source_changed"


def source_error(
    err: BaseException,
    what: str,
    *,
    dataset: str,
    url: str,
    endpoint_url: str | None,
    secrets: Secrets,
) -> LabrigError:
    """The domain error for ``err``, raised while ``what`` (e.g. "listing") at ``url``."""
    text = mask(f"{type(err).__name__}: {err}", secrets)
    where = mask(url, secrets)
    lowered = text.lower()
    status = _status_of(err)
    if _is_access_denied(err, status, lowered):
        return AccessDenied(
            f"dataset {dataset!r}: {where} refused access while {what} ({text}). Check "
            "the credentials named in options (credentials_env / credentials_file) or set "
            "options.anonymous for a public source",
        )
    if isinstance(err, FileNotFoundError) or status == 404 or "nosuchbucket" in lowered:
        return NotFound(
            f"dataset {dataset!r}: {where} does not exist ({text}) while {what}. Check the "
            "bucket and prefix (or path) in source_url",
        )
    if status == 412 or "preconditionfailed" in lowered:
        return SourceChanged(
            f"dataset {dataset!r}: an object changed at {where} while {what}; its version "
            "was not recorded as complete. Run refresh to pick up the new content",
        )
    if _is_connection_error(err):
        endpoint = endpoint_url or where
        return InvalidInput(
            f"dataset {dataset!r}: cannot reach {mask(str(endpoint), secrets)} while "
            f"{what} ({text}). Check options.endpoint_url and that the service is up",
            field="options.endpoint_url" if endpoint_url else "source_url",
        )
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return StorageFull(
            f"dataset {dataset!r}: the disk under the dataset cache is full while {what}; "
            "nothing partial was kept. Free space or lower LocalDatasetCache.size_limit",
        )
    return InvalidInput(
        f"dataset {dataset!r}: {what} {where} failed: {text}. Check that the source "
        "serves it; warming again resumes where this stopped",
        field="source_url",
    )


def _is_access_denied(err: BaseException, status: int | None, lowered: str) -> bool:
    return (
        isinstance(err, PermissionError)
        or status == 403
        or "accessdenied" in lowered
        or ("forbidden" in lowered)
        or "invalidaccesskeyid" in lowered
        or "signaturedoesnotmatch" in lowered
    )


def _status_of(err: BaseException) -> int | None:
    for attr in ("status", "code", "status_code"):
        value = getattr(err, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(code, int):
            return code
    cause = err.__cause__ or err.__context__
    if cause is not None and cause is not err:
        return _status_of(cause)
    return None


def _is_connection_error(err: BaseException) -> bool:
    names = {c.__name__ for c in type(err).__mro__}
    if names & {
        "EndpointConnectionError",
        "ConnectionError",
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ConnectTimeoutError",
        "RequestError",
    }:
        return True
    if isinstance(err, ConnectionError | socket.gaierror | TimeoutError):
        return True
    lowered = str(err).lower()
    if "could not connect" in lowered or "connection refused" in lowered:
        return True
    cause = err.__cause__ or err.__context__
    return cause is not None and cause is not err and _is_connection_error(cause)
