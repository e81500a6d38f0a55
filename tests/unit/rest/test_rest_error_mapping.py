"""REST mode's error mapping: each error response the server sends becomes the labrig error of
its reason with the server's own message; a refused token and an unreachable server get a
message of their own, naming the server and what to do."""

from __future__ import annotations

import json

import pytest

from labrig.errors import (
    AccessDenied,
    CapacityExceeded,
    Conflict,
    InvalidInput,
    LabrigError,
    NotFound,
    StorageFull,
    Unavailable,
)
from labrig.rest.http import (
    ApiClient,
    ServerUnreachable,
    TokenRefused,
    api_path,
    error_from_response,
    rest_settings,
)

URL = "http://127.0.0.1:8888/user/alice/"


def body(**values: object) -> bytes:
    return json.dumps(values).encode()


@pytest.mark.parametrize(
    ("status", "reason", "cls"),
    [
        (400, "invalid_input", InvalidInput),
        (404, "not_found", NotFound),
        (409, "conflict", Conflict),
        (409, "capacity_exceeded", CapacityExceeded),
        (503, "unavailable", Unavailable),
        (507, "storage_full", StorageFull),
        (403, "access_denied", AccessDenied),
    ],
)
def test_each_reason_becomes_its_labrig_error_with_the_servers_message_and_field(
    status: int, reason: str, cls: type[LabrigError]
) -> None:
    error = error_from_response(
        URL, status, body(message="what went wrong", reason=reason, field="f")
    )
    assert type(error) is cls
    assert error.message == "what went wrong"
    assert error.field == "f"


def test_a_data_sources_refusal_is_not_taken_for_a_refused_token() -> None:
    raw = body(message="s3 refused the key", reason="access_denied")
    error = error_from_response(URL, 403, raw)
    assert type(error) is AccessDenied
    assert error.message == "s3 refused the key"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"<html>Forbidden</html>",
        body(message="Forbidden", reason="Forbidden"),
        body(message="'_xsrf' argument missing from POST", reason="Forbidden"),
    ],
)
def test_jupyters_refusal_of_an_unknown_token_says_the_token_was_refused(raw: bytes) -> None:
    error = error_from_response(URL, 403, raw)
    assert isinstance(error, TokenRefused)
    assert isinstance(error, AccessDenied)  # still caught where access errors are
    assert error.message.startswith(f"the Jupyter server at {URL} refused this process's labrig")
    assert "revoked because the kernel or job it was made for has ended" in error.message


def test_a_401_is_a_refused_token_too() -> None:
    assert isinstance(error_from_response(URL, 401, b""), TokenRefused)


def test_an_authorizers_named_refusal_keeps_its_message() -> None:
    raw = body(message="User is not authorized to write on resource: labrig:models.", reason="x")
    error = error_from_response(URL, 403, raw)
    assert type(error) is AccessDenied
    assert error.message.startswith("User is not authorized")


def test_tornados_own_errors_map_by_status_and_unknown_failures_name_the_server() -> None:
    gone = error_from_response(URL, 404, body(message="Not Found", reason="Not Found"))
    assert type(gone) is NotFound
    assert gone.message == "Not Found"
    crashed = error_from_response(URL, 502, b"<html>bad gateway</html>")
    assert type(crashed) is Unavailable
    assert crashed.message == f"the Jupyter server at {URL} answered HTTP 502"
    internal = body(message="labrig hit an internal error; the server log has the details")
    assert error_from_response(URL, 500, internal).message.startswith("labrig hit an internal")


def test_capacity_errors_keep_what_is_free_and_who_holds_the_rest() -> None:
    raw = body(
        message="2 GPUs asked, 1 free",
        reason="capacity_exceeded",
        field="gpus",
        free=1,
        total=2,
        holders=["kernel:abc"],
    )
    error = error_from_response(URL, 409, raw)
    assert isinstance(error, CapacityExceeded)
    assert (error.free, error.total, error.holders) == (1, 2, ["kernel:abc"])


def test_an_unreachable_server_is_named_with_what_to_do() -> None:
    client = ApiClient("http://127.0.0.1:9", "token")  # the discard port: nothing listens
    with pytest.raises(ServerUnreachable) as caught:
        client.get("status")
    message = caught.value.message
    assert message.startswith("cannot reach the Jupyter server at http://127.0.0.1:9/ (")
    assert "Is the Jupyter server running?" in message
    assert "$LABRIG_API_TOKEN" in message


def test_rest_mode_needs_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABRIG_API_TOKEN", raising=False)
    monkeypatch.setenv("LABRIG_SERVER_URL", URL)
    assert rest_settings() is None
    monkeypatch.setenv("LABRIG_API_TOKEN", "  ")
    assert rest_settings() is None
    monkeypatch.setenv("LABRIG_API_TOKEN", "t0ken")
    assert rest_settings() == (URL, "t0ken")


def test_paths_are_quoted_but_keep_a_notebooks_folders() -> None:
    assert (
        api_path("resources", "my notes/train #1.ipynb")
        == "resources/my%20notes/train%20%231.ipynb"
    )
    assert api_path("models", "net", "versions", "latest") == "models/net/versions/latest"
