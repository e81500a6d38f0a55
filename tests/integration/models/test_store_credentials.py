"""The model store's credentials never leave the configuration and the environment: not into the
database, the REST API's replies, the server's log or an error message, whether they come from
``LabrigApp.model_store_options`` or from the environment, on ``s3://`` and ``oss://``."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from store_rig import PART, ObjectStore, RecordingHandler, files_holding, server_config

from labrig.services import Services

pytest.importorskip("s3fs")
pytest.importorskip("ossfs")


@pytest.fixture
def jp_server_config(labrig_env: Path, object_store: ObjectStore) -> dict[str, Any]:
    return server_config(labrig_env, object_store)


@pytest.mark.parametrize(
    "object_store",
    [("s3", "env"), ("s3", "options"), ("oss", "env"), ("oss", "options")],
    indirect=True,
    ids=["s3-env", "s3-options", "oss-env", "oss-options"],
)
async def test_the_secret_appears_in_no_reply_log_row_or_error(
    object_store: ObjectStore,
    api: Any,
    jp_fetch: Any,
    jp_root_dir: Path,
    jp_serverapp: Any,
    server_services: Services,
    log_lines: RecordingHandler,
    labrig_env: Path,
) -> None:
    jp_serverapp.log.addHandler(log_lines)  # the server's own logger does not propagate
    replies: list[tuple[int, str]] = []

    async def call(path: str, **kwargs: Any) -> Any:
        status, body = await api(path, **kwargs)
        replies.append((status, json.dumps(body)))
        return status, body

    data = os.urandom(PART + 5)  # two parts
    (jp_root_dir / "model.pt").write_bytes(data)
    body = {"path": "model.pt", "metrics": {"acc": 0.9}}
    status, version = await call("models/secret-model/versions", method="POST", body=body)
    assert status == 201, version
    await call("models/secret-model/versions", method="POST", body={"path": "model.pt"})
    await call("models")
    await call("models/secret-model")
    await call("models/secret-model/versions")
    await call("models/secret-model/versions/1")
    await call("models/secret-model/aliases/prod", method="PUT", body={"version": 1})
    await call("status")
    download = await jp_fetch(
        "labrig", "api", "v1", "models", "secret-model", "versions", "1", "files", "model.pt"
    )
    assert download.body == data
    assert (await call("models/secret-model/versions/2", method="DELETE"))[0] == 204
    collected = await asyncio.to_thread(server_services.models.gc, timedelta(0))
    replies.append((200, json.dumps(collected)))

    # Refused by its key id: the 503 below proves the credentials under test were the ones used.
    object_store.refuse()
    status, refused = await call("models/secret-model/versions", method="POST", body=body)
    assert (status, refused["reason"]) == (503, "store_access_denied"), refused
    assert object_store.url in refused["message"]
    assert "LabrigApp.model_store_options" in refused["message"]
    download = await jp_fetch(
        "labrig",
        "api",
        "v1",
        "models",
        "secret-model",
        "versions",
        "1",
        "files",
        "model.pt",
        raise_error=False,
    )
    assert download.code == 503
    replies.append((download.code, download.body.decode()))

    assert all(status != 500 for status, _ in replies), replies
    assert [text for _, text in replies if object_store.secret in text] == []
    assert [line for line in log_lines.lines if object_store.secret in line] == []
    assert await asyncio.to_thread(files_holding, labrig_env, object_store.secret) == []
