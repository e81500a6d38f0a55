"""A dataset's source URL, options and credentials: checking what a user or administrator gave,
showing options without secrets, resolving credentials at the moment of use, and masking them in
every message.

The catalog stores only *where* credentials are (environment variable names or a file path);
their values live in a ``Secrets`` only as long as a ``Source`` needs them.
"""

from __future__ import annotations

import configparser
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from labrig.errors import InvalidInput

SCHEMES = ("file", "s3", "oss", "gs", "http", "https")
OPTION_KEYS = {"endpoint_url", "region", "anonymous", "credentials_env", "credentials_file"}
CREDENTIAL_ROLES = {"key", "secret", "token"}
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_SECRET_IN_URL = re.compile(r"(://)[^/@\s]+@")
#: Variables no user dataset may name whatever the allow-list says: labrig's own (the database
#: URL, password included) and the tokens Jupyter Server and JupyterHub give the server.
NEVER_ALLOWED_ENV = ("LABRIG_*", "JUPYTERHUB_*", "JPY_*")
ALLOWED_ENV_SETTING = "c.DatasetCache.allowed_credentials_env"
ALLOWED_FILES_SETTING = "c.DatasetCache.allowed_credentials_files"


@dataclass
class Secrets:
    """Resolved credential values: used to build clients and to scrub messages."""

    values: dict[str, str] = field(default_factory=dict)

    def scrub(self, text: str) -> str:
        for value in self.values.values():
            if value and len(value) >= 3:
                text = text.replace(value, "****")
        return _SECRET_IN_URL.sub(r"\1****@", text)


def mask(text: str, secrets: Secrets | None = None) -> str:
    """``text`` with credential values and URL user-info replaced by ``****``."""
    return (secrets or Secrets()).scrub(text)


def check_source_url(name: str, url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(
            f"dataset {name!r}: source_url is required, e.g. s3://bucket/prefix/ or "
            "file:///data/mnist",
            field="source_url",
        )
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as err:
        raise InvalidInput(
            f"dataset {name!r}: source_url {mask(url)!r} is not a valid URL ({err})",
            field="source_url",
        ) from err
    scheme = parts.scheme.lower()
    if not scheme or "://" not in url:
        raise InvalidInput(
            f"dataset {name!r}: source_url {mask(url)!r} is not a URL; use one of "
            + ", ".join(f"{s}://" for s in SCHEMES),
            field="source_url",
        )
    if scheme not in SCHEMES:
        raise InvalidInput(
            f"dataset {name!r}: source_url scheme {scheme!r} is not supported; use one of "
            + ", ".join(f"{s}://" for s in SCHEMES),
            field="source_url",
        )
    if parts.username or parts.password:
        raise InvalidInput(
            f"dataset {name!r}: source_url {mask(url)!r} carries credentials; put them in "
            "environment variables and name those in options.credentials_env",
            field="source_url",
        )
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise InvalidInput(
                f"dataset {name!r}: source_url {url!r} must be an absolute file:///path",
                field="source_url",
            )
    elif not parts.netloc:
        what = "host" if scheme.startswith("http") else "bucket"
        raise InvalidInput(
            f"dataset {name!r}: source_url {url!r} names no {what}; use {scheme}://{what}/path",
            field="source_url",
        )
    return url


def check_options(name: str, options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise InvalidInput(f"dataset {name!r}: options must be an object", field="options")
    for key in options:
        _check_option_key(name, key)
    out: dict[str, Any] = {}
    if options.get("endpoint_url") is not None:
        out["endpoint_url"] = _check_endpoint(name, options["endpoint_url"])
    if options.get("region") is not None:
        out["region"] = _check_region(name, options["region"])
    if options.get("anonymous") is not None:
        if not isinstance(options["anonymous"], bool):
            raise InvalidInput(
                f"dataset {name!r}: options.anonymous must be true or false",
                field="options.anonymous",
            )
        out["anonymous"] = options["anonymous"]
    if options.get("credentials_env") is not None:
        out["credentials_env"] = _check_credentials_env(name, options["credentials_env"])
    cred_file = options.get("credentials_file")
    if cred_file is not None:
        if not isinstance(cred_file, str) or not os.path.isabs(os.path.expanduser(cred_file)):
            raise InvalidInput(
                f"dataset {name!r}: options.credentials_file must be an absolute path",
                field="options.credentials_file",
            )
        out["credentials_file"] = cred_file
    if out.get("anonymous") and ("credentials_env" in out or "credentials_file" in out):
        raise InvalidInput(
            f"dataset {name!r}: options.anonymous cannot be combined with credentials",
            field="options.anonymous",
        )
    return out


def _check_option_key(name: str, key: Any) -> None:
    if key in OPTION_KEYS:
        return
    # Someone who tries to pass a credential itself is told where it belongs instead.
    hint = (
        "; never pass credentials themselves: name the environment variables that "
        "hold them in credentials_env, or a credentials file in credentials_file"
        if key.lower() in {"key", "secret", "token", "password", "access_key"}
        else ""
    )
    raise InvalidInput(
        f"dataset {name!r}: unknown option {key!r}; allowed: "
        f"{', '.join(sorted(OPTION_KEYS))}{hint}",
        field=f"options.{key}",
    )


def _check_endpoint(name: str, endpoint: Any) -> str:
    parts = urlsplit(str(endpoint))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(
            f"dataset {name!r}: options.endpoint_url {mask(str(endpoint))!r} must be an "
            "http(s)://host[:port] URL",
            field="options.endpoint_url",
        )
    if parts.username or parts.password:
        raise InvalidInput(
            f"dataset {name!r}: options.endpoint_url carries credentials; use credentials_env",
            field="options.endpoint_url",
        )
    return str(endpoint)


def _check_region(name: str, region: Any) -> str:
    if not isinstance(region, str) or not re.fullmatch(r"[a-z0-9-]{1,64}", region):
        raise InvalidInput(
            f"dataset {name!r}: options.region {region!r} is not a region name",
            field="options.region",
        )
    return region


def _check_credentials_env(name: str, env: Any) -> dict[str, str]:
    if not isinstance(env, dict) or not env:
        raise InvalidInput(
            f"dataset {name!r}: options.credentials_env must map key/secret/token to the "
            'NAMES of environment variables, e.g. {"key": "AWS_ACCESS_KEY_ID"}',
            field="options.credentials_env",
        )
    for role, var in env.items():
        if role not in CREDENTIAL_ROLES or not isinstance(var, str) or not ENV_NAME.fullmatch(var):
            raise InvalidInput(
                f"dataset {name!r}: options.credentials_env[{role!r}] must name an "
                "environment variable (letters, digits, '_'); roles are key, secret, token",
                field="options.credentials_env",
            )
    return dict(env)


def check_credentials_allowed(
    name: str,
    options: dict[str, Any],
    allowed_env: Sequence[str],
    allowed_files: Sequence[str],
) -> None:
    """Refuse credentials a user's dataset may not name: the server reads them and sends them
    to the endpoint the user chose, so only what an administrator allowed may be named."""
    for role, var in sorted((options.get("credentials_env") or {}).items()):
        if any(fnmatchcase(var, never) for never in NEVER_ALLOWED_ENV):
            raise InvalidInput(
                f"dataset {name!r}: options.credentials_env[{role!r}] names {var}, which no "
                f"dataset may name ({', '.join(NEVER_ALLOWED_ENV)} are labrig's and Jupyter's "
                "own); name a variable that holds the dataset's credentials",
                field="options.credentials_env",
            )
        if not any(fnmatchcase(var, pattern) for pattern in allowed_env):
            raise InvalidInput(
                f"dataset {name!r}: options.credentials_env[{role!r}] names {var}, which the "
                f"administrator has not allowed (allowed: {_listed(allowed_env)}); ask them to "
                f"add it to {ALLOWED_ENV_SETTING}",
                field="options.credentials_env",
            )
    cred_file = options.get("credentials_file")
    if cred_file:
        # Matched where it leads, so a symlink under an allowed directory reaches no other file.
        real = os.path.realpath(os.path.expanduser(cred_file))
        patterns = [os.path.expanduser(pattern) for pattern in allowed_files]
        if not any(fnmatchcase(real, pattern) for pattern in patterns):
            raise InvalidInput(
                f"dataset {name!r}: options.credentials_file {cred_file} is not a file the "
                f"administrator allowed (allowed: {_listed(allowed_files)}); ask them to add "
                f"it to {ALLOWED_FILES_SETTING}",
                field="options.credentials_file",
            )


def _listed(patterns: Sequence[str]) -> str:
    return ", ".join(patterns) if patterns else "none"


def public_options(options: dict[str, Any]) -> dict[str, Any]:
    """Options as the API shows them: where credentials come from, never what they are."""
    out = {k: v for k, v in options.items() if k not in ("credentials_env", "credentials_file")}
    if "credentials_env" in options:
        out["credentials"] = "environment"
    elif "credentials_file" in options:
        out["credentials"] = "file"
    return out


def check_include(name: str, include: Any) -> str | None:
    if include in (None, ""):
        return None
    if not isinstance(include, str) or len(include) > 1024:
        raise InvalidInput(
            f"dataset {name!r}: include must be a glob pattern such as '*.parquet'",
            field="include",
        )
    return include


def resolve_secrets(name: str, options: dict[str, Any]) -> Secrets:
    values: dict[str, str] = {}
    for role, var in (options.get("credentials_env") or {}).items():
        value = os.environ.get(var)
        if value is None:
            raise InvalidInput(
                f"dataset {name!r}: environment variable {var} (credentials {role}) is not set "
                "in the server's environment; set it and try again",
                field="options.credentials_env",
            )
        values[role] = value
    cred_file = options.get("credentials_file")
    if cred_file:
        loaded = _read_credentials_file(name, Path(cred_file).expanduser())
        for role in CREDENTIAL_ROLES:
            if isinstance(loaded, dict) and loaded.get(role):
                values[role] = str(loaded[role])
    return Secrets(values)


def _read_credentials_file(name: str, path: Path) -> Any:
    """A JSON object of key/secret/token, or an INI file's first section (AWS style names)."""
    try:
        text = path.read_text()
    except OSError as err:
        raise InvalidInput(
            f"dataset {name!r}: cannot read credentials file {path}: {err.strerror}",
            field="options.credentials_file",
        ) from err
    try:
        return json.loads(text)
    except ValueError:
        pass
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error as err:
        raise InvalidInput(
            f"dataset {name!r}: credentials file {path} is neither JSON nor INI",
            field="options.credentials_file",
        ) from err
    section = parser[parser.sections()[0]] if parser.sections() else {}
    return {
        "key": section.get("aws_access_key_id") or section.get("key"),
        "secret": section.get("aws_secret_access_key") or section.get("secret"),
        "token": section.get("aws_session_token") or section.get("token"),
    }
