"""Keeping the server's secrets off disk when a local job's supervisor must act as the server.

A supervisor outlives the server and admits the next jobs with the server's settings, which
may hold credentials (``model_store_options`` key/secret, a database URL with its password, a
Kubernetes storage secret). ``job.json`` keeps the settings with those values taken out; the
values themselves travel in the supervisor's process environment (``SECRETS_ENV``), which it
reads and removes before any rank starts, so ranks never inherit them from labrig (they get
their credentials from the deployment: the server's environment and configuration file).

A value is secret when its key names a credential (``key``, ``secret``, ``password``, ``*token*``,
...), when it is the ``value`` of a Kubernetes EnvVar whose ``name`` does, or when it is a URL
carrying a password.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

#: Where the supervisor, and the ranks after it, find the state database (its URL may hold a
#: password, so it is never written into job.json).
DATABASE_URL_ENV = "LABRIG_DATABASE_URL"
#: The supervisor's environment variable carrying the secret values ([[path, value], ...]).
SECRETS_ENV = "LABRIG_SUPERVISOR_SECRETS"
#: Keys naming a credential exactly (s3fs/ossfs/gcsfs options, AWS-style names).
SECRET_KEYS = {
    "key",
    "secret",
    "token",
    "password",
    "passwd",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
}
#: Parts of a key that name a credential wherever they appear in it.
SECRET_WORDS = ("secret", "password", "passwd", "token", "credential", "private_key", "api_key")
#: Where a value was found: the keys and list indexes leading to it.
SettingPath = list[str | int]
#: Secret values, each with where it was found.
Found = list[tuple[SettingPath, Any]]


def names_a_secret(key: str) -> bool:
    lowered = key.lower()
    return lowered in SECRET_KEYS or any(word in lowered for word in SECRET_WORDS)


def _url_with_password(value: str) -> bool:
    if "://" not in value:
        return False
    try:
        return bool(urlsplit(value).password)
    except ValueError:
        return False


def _secret_leaves(node: Any, path: SettingPath) -> Iterator[tuple[SettingPath, Any]]:
    if isinstance(node, dict):
        env_name = node.get("name")
        for key, value in node.items():
            secret_key = names_a_secret(str(key)) or (
                key == "value" and isinstance(env_name, str) and names_a_secret(env_name)
            )
            if secret_key and value not in (None, "", {}, []):
                yield [*path, key], value
            else:
                yield from _secret_leaves(value, [*path, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _secret_leaves(value, [*path, index])
    elif isinstance(node, str) and _url_with_password(node):
        yield path, node


def split_secrets(settings: dict[str, Any]) -> tuple[dict[str, Any], Found]:
    """``settings`` with every secret value replaced by None, and those values by path."""
    secrets = list(_secret_leaves(settings, []))
    public: dict[str, Any] = json.loads(json.dumps(settings))
    for path, _value in secrets:
        _place(public, path, None)
    return public, secrets


def with_secrets(settings: dict[str, Any], secrets: Found) -> dict[str, Any]:
    """The settings ``split_secrets`` took apart, whole again."""
    whole: dict[str, Any] = json.loads(json.dumps(settings))
    for path, value in secrets:
        _place(whole, path, value)
    return whole


def _place(node: Any, path: SettingPath, value: Any) -> None:
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


def secrets_env(secrets: Found) -> dict[str, str]:
    """The supervisor's environment entry carrying ``secrets`` (none when there are none)."""
    return {SECRETS_ENV: json.dumps(secrets)} if secrets else {}


def take_secrets_from_env() -> Found:
    """The secrets this supervisor was started with, removed from its environment first so
    that no rank it starts inherits them."""
    raw = os.environ.pop(SECRETS_ENV, None)
    return [(list(path), value) for path, value in json.loads(raw)] if raw else []
