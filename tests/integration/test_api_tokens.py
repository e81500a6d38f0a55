"""labrig's scoped API tokens (``labrig.tokens``): what a kernel's or a job's token may do.

A token acts as its owner on labrig's routes and nowhere else, is never an administrator, needs
no XSRF cookie (a script's header, as with Jupyter's tokens), and stops working once revoked.
The server runs with several users (``identities``), so "acts as its owner" is not the server's
single user in disguise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from identities import ADMIN, API, Caller, as_user_fixture, server_config_fixture
from tornado.httpclient import HTTPResponse

from labrig.services import Services
from labrig.tokens import ApiTokens

__all__ = ["as_user_fixture", "server_config_fixture"]

Users = Callable[[str], Caller]


async def with_token(jp_fetch: Any, token: str, path: str, **kwargs: Any) -> HTTPResponse:
    headers = {"Authorization": f"token {token}"}
    response: HTTPResponse = await jp_fetch(
        *path.split("/"), headers=headers, raise_error=False, **kwargs
    )
    return response


def body(response: HTTPResponse) -> Any:
    return json.loads(response.body) if response.body else None


@pytest.fixture
def tokens(server_services: Services) -> ApiTokens:
    return server_services.tokens


async def test_a_kernel_token_acts_as_its_owner_on_labrig_routes_without_xsrf(
    jp_fetch: Any, tokens: ApiTokens, as_user: Users
) -> None:
    token = tokens.mint("alice", "kernel", "kernel-1")
    created = await with_token(
        jp_fetch, token, "/".join([*API, "models"]), method="POST", body=json.dumps({"name": "m"})
    )
    assert created.code == 201, created.body
    # Recorded as alice's: alice sees it as the owner, as bob does.
    status, model = await as_user("bob").api("models/m")
    assert (status, model["owner"]) == (200, "alice")
    listed = await with_token(jp_fetch, token, "/".join([*API, "jobs"]))
    assert listed.code == 200


@pytest.mark.parametrize(
    "path", ["api/contents", "api/kernels", "api/sessions", "api/terminals", "api/me"]
)
async def test_jupyters_own_routes_refuse_a_labrig_token(
    jp_fetch: Any, tokens: ApiTokens, path: str
) -> None:
    token = tokens.mint("alice", "kernel", "kernel-1")
    response = await with_token(jp_fetch, token, path)
    assert response.code == 403, (path, response.code)


async def test_a_revoked_or_made_up_token_is_refused(jp_fetch: Any, tokens: ApiTokens) -> None:
    token = tokens.mint("alice", "job", "job-1")
    jobs = "/".join([*API, "jobs"])
    assert (await with_token(jp_fetch, token, jobs)).code == 200
    assert tokens.revoke("job", "job-1") == 1
    assert (await with_token(jp_fetch, token, jobs)).code == 403
    assert (await with_token(jp_fetch, token + "x", jobs)).code == 403
    assert (await with_token(jp_fetch, "labrig-kernel-made-up", jobs)).code == 403


async def test_an_administrators_token_is_not_an_administrator(
    jp_fetch: Any, tokens: ApiTokens, as_user: Users, jp_root_dir: Path
) -> None:
    (jp_root_dir / "model.pt").write_bytes(b"weights")
    status, _ = await as_user("bob").api("models/bobs/versions", "POST", {"path": "model.pt"})
    assert status == 201
    token = tokens.mint(ADMIN, "kernel", "kernel-of-admin")
    refused = await with_token(jp_fetch, token, "/".join([*API, "models", "bobs"]), method="DELETE")
    assert refused.code == 403
    assert "bob" in body(refused)["message"]
    # The administrator themself, through Jupyter's login, may.
    status, _ = await as_user(ADMIN).api("models/bobs", "DELETE")
    assert status == 204


async def test_a_token_sees_only_its_owners_jobs(
    jp_fetch: Any, tokens: ApiTokens, as_user: Users, jp_root_dir: Path, server_services: Services
) -> None:
    from labrig import identity

    notebook = jp_root_dir / "nb.ipynb"
    notebook.write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    with identity.acting_as(identity.Principal("bob")):
        job = server_services.jobs.submit({"notebook_path": "nb.ipynb"})
    alices = tokens.mint("alice", "kernel", "kernel-a")
    missing = await with_token(jp_fetch, alices, "/".join([*API, "jobs", job["id"]]))
    assert missing.code == 404
    bobs = tokens.mint("bob", "kernel", "kernel-b")
    found = await with_token(jp_fetch, bobs, "/".join([*API, "jobs", job["id"]]))
    assert (found.code, body(found)["id"]) == (200, job["id"])


def test_only_the_digest_is_stored(services: Services) -> None:
    from labrig.store.tables import ApiToken

    token = services.tokens.mint("alice", "kernel", "k")
    with services.db.session() as session:
        digests = [row.digest for row in session.query(ApiToken).all()]
    assert len(digests) == 1
    assert token not in digests[0]
    assert len(digests[0]) == 64
    assert services.tokens.verify(token) is not None


def tar_of(name: str, data: bytes) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


async def test_an_upload_vouches_for_its_kernel_and_cannot_claim_another_users_job(
    jp_fetch: Any, tokens: ApiTokens, jp_root_dir: Path, server_services: Services
) -> None:
    from labrig import identity

    notebook = jp_root_dir / "nb.ipynb"
    notebook.write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    with identity.acting_as(identity.Principal("bob")):
        bobs_job = server_services.jobs.submit({"notebook_path": "nb.ipynb"})
    token = tokens.mint("alice", "kernel", "kernel-of-alice")
    upload = "/".join([*API, "model-uploads", "m"])

    async def send(lineage: dict[str, Any]) -> HTTPResponse:
        metadata = json.dumps({"kind": "file", "lineage": lineage})
        return await with_token(
            jp_fetch,
            token,
            upload,
            method="POST",
            body=tar_of("w.bin", b"w"),
            params={"metadata": metadata},
        )

    refused = await send({"job_id": bobs_job["id"], "notebook_path": "claimed.ipynb"})
    assert refused.code == 400, refused.body
    assert "not a job of yours" in body(refused)["message"]
    assert (await with_token(jp_fetch, token, "/".join([*API, "models", "m"]))).code == 404

    claimed = {"notebook_path": "nb.ipynb", "kernel_id": "someone-elses-kernel"}
    created = await send(claimed)
    assert created.code == 201, created.body
    lineage = body(created)["lineage"]
    assert (lineage["kernel_id"], lineage["notebook_path"]) == ("kernel-of-alice", "nb.ipynb")
