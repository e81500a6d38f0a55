"""The model store's credentials, and its failures as domain errors that never show them.

Credentials come from ``LabrigApp.model_store_options`` (``key``/``secret``/``token``) or, when
those leave them out, from the environment of the process (the server, a kernel, a job rank or
its pod): the AWS variables for ``s3://`` (botocore reads them itself), the OSS ones for
``oss://`` (read here, as ossfs does not). Every message built from a store's error has the
credential values masked, wherever they came from.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from typing import Any

from ..errors import InvalidInput, LabrigError, StorageFull, Unavailable

#: The environment variables each protocol's credentials come from: key id, secret, token.
ENV_CREDENTIALS = {
    "s3": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
    "oss": ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN"),
}
#: Option names (at any depth of the options) whose values are credentials.
SECRET_OPTIONS = {
    "key",
    "secret",
    "token",
    "password",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
}
#: Shorter values are not masked (they would mask ordinary words of a message).
MIN_MASKED = 4


class StoreAccessDenied(Unavailable):
    """The model store refused this deployment's credentials.

    An ``Unavailable`` (HTTP 503), not a 403: the caller has the rights it needs in labrig; the
    server's own dependency failed, and only whoever configures the deployment can fix it."""

    reason = "store_access_denied"


def with_env_credentials(protocol: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` plus the credentials the environment holds for an ``oss://`` store, when
    the options name none (s3fs/botocore read the AWS variables themselves)."""
    if protocol != "oss" or options.get("key"):
        return options
    key_var, secret_var, token_var = ENV_CREDENTIALS["oss"]
    found = {
        "key": os.environ.get(key_var),
        "secret": os.environ.get(secret_var),
        "token": os.environ.get(token_var),
    }
    return {**options, **{name: value for name, value in found.items() if value}}


def check_endpoint(url: str, protocol: str, options: dict[str, Any]) -> None:
    if protocol == "oss" and not (options.get("endpoint") or os.environ.get("OSS_ENDPOINT")):
        raise InvalidInput(
            f'the model store {url} needs an OSS endpoint: set "endpoint" (e.g. '
            "https://oss-cn-hangzhou.aliyuncs.com) in LabrigApp.model_store_options, or "
            "OSS_ENDPOINT in the environment",
            field="model_store_options",
        )


def secrets_of(protocol: str, options: dict[str, Any]) -> list[str]:
    """Every credential value the store may use: from its options and from the environment."""
    found = [str(v) for v in _secret_values(options)]
    found += [os.environ.get(var, "") for var in ENV_CREDENTIALS.get(protocol, ())]
    return sorted({v for v in found if len(v) >= MIN_MASKED}, key=len, reverse=True)


def _secret_values(options: Any) -> Iterable[Any]:
    if isinstance(options, dict):
        for name, value in options.items():
            if name in SECRET_OPTIONS and isinstance(value, str):
                yield value
            else:
                yield from _secret_values(value)
    elif isinstance(options, list | tuple):
        for value in options:
            yield from _secret_values(value)


def mask(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def store_error(
    err: BaseException, url: str, protocol: str = "file", secrets: Iterable[str] = ()
) -> LabrigError:
    """The domain error for a failure of the store itself, with credentials masked."""
    detail = mask(f"{type(err).__name__}: {err}", secrets)
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(
            f"the model store at {url} is full ({err.strerror}); free space or run "
            "`labrig models gc`, then register again"
        )
    if protocol in ENV_CREDENTIALS and _refused(err):
        key_var, secret_var, _token = ENV_CREDENTIALS[protocol]
        return StoreAccessDenied(
            f"the model store at {url} refused labrig's credentials ({detail}). Set key and "
            f"secret in LabrigApp.model_store_options, or {key_var} and {secret_var} in the "
            "environment of the server, its kernels and jobs, to credentials that may read "
            "and write there",
            field="model_store_options",
        )
    return Unavailable(f"the model store at {url} cannot be reached or written: {detail}")


def _refused(err: BaseException) -> bool:
    if isinstance(err, PermissionError):
        return True
    text = str(err).lower()
    return any(
        code in text
        for code in ("accessdenied", "access denied", "invalidaccesskeyid", "signaturedoesnotmatch")
    )
