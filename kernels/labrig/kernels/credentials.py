"""A kernel's scoped credential: what a kernel started by the server gets instead of the
database URL (``labrig.tokens``, ``labrig.server_url``).

Each start of a kernel gets a new token acting as the kernel's owner (subject: the kernel id, so
the previous start's token is revoked when the next is minted), and ``$LABRIG_SERVER_URL``; the
server's own ``$LABRIG_DATABASE_URL`` (an administrator's environment may carry it) never reaches
the kernel. Outside a server (``runtime.kernel_api()`` is None) nothing is minted and the
environment is left as it is.
"""

from __future__ import annotations

from labrig.jobs.env_names import API_TOKEN_ENV, SERVER_URL_ENV
from labrig.jobs.secret_settings import DATABASE_URL_ENV
from labrig.resources.runtime import KernelApi

#: The token kind of kernels (``labrig.tokens.KINDS``).
KIND = "kernel"
#: What a kernel started by the server never inherits from it.
WITHHELD = (DATABASE_URL_ENV, SERVER_URL_ENV, API_TOKEN_ENV)


def issue_token(api: KernelApi, owner: str, kernel_id: str) -> str:
    """A token for this start of the kernel, acting as ``owner``; the tokens of its earlier
    starts stop working (blocking: writes the database)."""
    api.tokens.revoke(KIND, kernel_id)
    return api.tokens.mint(owner, KIND, kernel_id)


def revoke_tokens(api: KernelApi, kernel_id: str) -> None:
    """The kernel stopped: its tokens stop working (blocking)."""
    api.tokens.revoke(KIND, kernel_id)


def api_env(url: str, token: str) -> dict[str, str]:
    return {SERVER_URL_ENV: url, API_TOKEN_ENV: token}


def local_kernel_env(
    api: KernelApi, owner: str, kernel_id: str, env: dict[str, str]
) -> dict[str, str]:
    """``env`` (the server's environment) as a kernel on this host gets it: without the
    database URL or the server's own API variables, with the kernel's URL and a new token when
    the server has a URL for it (blocking)."""
    scoped = {name: value for name, value in env.items() if name not in WITHHELD}
    url = api.local_url()
    if url is None:
        revoke_tokens(api, kernel_id)
        return scoped
    return scoped | api_env(url, issue_token(api, owner, kernel_id))
