"""The registry over REST: register from the Jupyter root, browse, move aliases, download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

API = ("labrig", "api", "v1")


@pytest.fixture
def checkpoint(jp_root_dir: Path) -> Path:
    path = jp_root_dir / "runs" / "model.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"weights" * 1000)
    return path


async def test_register_browse_alias_and_download(
    api: Any, jp_fetch: Any, checkpoint: Path
) -> None:
    body = {"path": "runs/model.pt", "metrics": {"acc": 0.9}, "note": "first", "tags": {"a": "b"}}
    status, v1 = await api("models/resnet-mini/versions", method="POST", body=body)
    assert status == 201, v1
    assert v1["ref"] == "resnet-mini/1"
    assert v1["user"]
    assert v1["lineage"]["source_path"] == "runs/model.pt"
    status, v2 = await api(
        "models/resnet-mini/versions",
        method="POST",
        body={"path": "runs", "metrics": {"acc": 0.95}},
    )
    assert status == 201, v2
    assert v2["kind"] == "directory"

    status, models = await api("models")
    assert [m["name"] for m in models["items"]] == ["resnet-mini"]
    assert models["items"][0]["latest_version"] == 2

    status, page = await api("models/resnet-mini/versions", order_by="metric:acc", order="asc")
    assert [v["version"] for v in page["items"]] == [1, 2]

    status, moved = await api(
        "models/resnet-mini/aliases/production", method="PUT", body={"version": 1}
    )
    assert (status, moved) == (200, {"model": "resnet-mini", "alias": "production", "version": 1})
    await api("models/resnet-mini/aliases/production", method="PUT", body={"version": 2})
    status, version = await api("models/resnet-mini/versions/production")
    assert (status, version["version"], version["aliases"]) == (200, 2, ["production"])
    status, history = await api("models/resnet-mini/alias-history")
    assert [(e["from_version"], e["to_version"]) for e in history["items"]] == [(1, 2), (None, 1)]

    response = await jp_fetch(*API, "models", "resnet-mini", "versions", "1", "files", "model.pt")
    assert response.body == b"weights" * 1000
    assert response.headers["Content-Type"] == "application/octet-stream"

    status, reply = await api("models/resnet-mini/versions/2", method="DELETE")
    assert status == 409
    assert "production" in reply["message"]
    status, _ = await api("models/resnet-mini/versions/1", method="DELETE")
    assert status == 204
    status, _ = await api("models/resnet-mini/aliases/production", method="DELETE")
    assert status == 204
    status, _ = await api("models/resnet-mini", method="DELETE")
    assert status == 204
    assert (await api("models"))[1]["items"] == []


async def test_idempotency_key_over_rest(api: Any, checkpoint: Path) -> None:
    body = {"path": "runs/model.pt", "idempotency_key": "job-7/rank0/model.pt"}
    first = await api("models/m/versions", method="POST", body=body)
    again = await api("models/m/versions", method="POST", body=body)
    assert first[1]["version"] == again[1]["version"] == 1
    assert (await api("models/m"))[1]["version_count"] == 1


@pytest.mark.parametrize(
    ("name", "body", "status", "field"),
    [
        ("m", {"path": "runs/model.pt", "metrics": {"acc": "NaN"}}, 400, "metrics"),
        ("m", {"path": "runs/model.pt", "metrics": {"acc": [1]}}, 400, "metrics"),
        ("m", {"path": "../outside.pt"}, 400, "path"),
        ("m", {"path": "/etc/passwd"}, 400, "path"),
        ("m", {"path": ""}, 400, "path"),
        ("m", {}, 400, "path"),
        ("m", {"path": "runs/missing.pt"}, 404, "path"),
        ("m", {"path": "runs/empty.pt"}, 400, "path"),
        ("m", {"path": "runs/model.pt", "colour": "red"}, 400, "colour"),
        ("m", {"path": "runs/model.pt", "tags": ["x"]}, 400, "tags"),
        ("m", {"path": "runs/model.pt", "note": 5}, 400, "note"),
        ("a..b", {"path": "runs/model.pt"}, 400, "name"),
        ("%3Cb%3E", {"path": "runs/model.pt"}, 400, "name"),
        ("x" * 129, {"path": "runs/model.pt"}, 400, "name"),
    ],
)
async def test_bad_registrations_are_specific_4xx_and_change_nothing(
    api: Any, checkpoint: Path, name: str, body: Any, status: int, field: str
) -> None:
    (checkpoint.parent / "empty.pt").write_bytes(b"")
    got, reply = await api(f"models/{name}/versions", method="POST", body=body)
    assert (got, reply["field"]) == (status, field), reply
    assert "Traceback" not in reply["message"]
    assert (await api("models"))[1]["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("PUT", "models/m/aliases/production", {"version": 9}, 404, "version"),
        ("PUT", "models/m/aliases/production", {"version": "one"}, 400, "version"),
        ("PUT", "models/m/aliases/production", {}, 400, "version"),
        ("PUT", "models/m/aliases/123", {"version": 1}, 400, "alias"),
        ("PUT", "models/m/aliases/latest", {"version": 1}, 400, "alias"),
        ("DELETE", "models/m/aliases/staging", None, 404, "alias"),
        ("GET", "models/m/versions/7", None, 404, "version"),
        ("GET", "models/m/versions/staging", None, 404, "ref"),
        ("GET", "models/m/versions/1/files/nope.bin", None, 404, "path"),
        ("GET", "models/m/versions?order_by=colour", None, 400, "order_by"),
        ("GET", "models/m/versions?order=up", None, 400, "order"),
        ("GET", "models/m/versions?order_by=metric:acc&page_token=zz", None, 400, "page_token"),
        ("GET", "models/nope/versions", None, 404, "name"),
    ],
)
async def test_bad_requests_name_the_field(
    api: Any, checkpoint: Path, method: str, path: str, body: Any, status: int, field: str
) -> None:
    assert (await api("models/m/versions", method="POST", body={"path": "runs/model.pt"}))[0] == 201
    path, _, query = path.partition("?")
    params = dict(pair.split("=", 1) for pair in query.split("&") if pair)
    got, reply = await api(path, method=method, body=body, **params)
    assert (got, reply["field"]) == (status, field), reply


async def test_a_full_store_is_507(
    api: Any, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def no_space(*_args: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("labrig.models.store.os.replace", no_space)
    status, reply = await api("models/m/versions", method="POST", body={"path": "runs/model.pt"})
    assert status == 507
    assert reply["reason"] == "storage_full"


async def test_downloads_need_authentication(jp_fetch: Any, api: Any, checkpoint: Path) -> None:
    await api("models/m/versions", method="POST", body={"path": "runs/model.pt"})
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch(
            *API, "models", "m", "versions", "1", "files", "model.pt", headers={"Authorization": ""}
        )
    assert caught.value.code in (401, 403)
