"""schemathesis against openapi.yaml on a live server: every operation, valid and invalid
inputs, no 5xx, every answer as documented (the bounded profile; ``make fuzz`` runs longer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fuzz_api import PROFILES, SPEC, ApiError, LiveServer, run_schemathesis, server_errors_logged

VERBS = ("get", "post", "put", "patch", "delete")
DOCUMENTED_OPERATIONS = sum(
    verb in ops for ops in yaml.safe_load(SPEC.read_text())["paths"].values() for verb in VERBS
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("fuzz"))
    with server.running():
        server.seed()
        yield server


@pytest.mark.timeout(900)
def test_every_operation_answers_as_documented_under_fuzzing(live_server: LiveServer) -> None:
    result = run_schemathesis(live_server, PROFILES["bounded"])
    print(result.summary())
    assert result.exit_code == 0, result.output[-20000:]
    # Nothing skipped silently: every documented operation was generated for and called.
    assert result.report["operations"]["selected"] == DOCUMENTED_OPERATIONS
    assert result.operations == DOCUMENTED_OPERATIONS, result.report["operations"]
    assert result.report["operations"]["skipped"] == 0
    assert result.examples >= DOCUMENTED_OPERATIONS
    assert server_errors_logged(live_server) == []


def test_the_fuzz_run_fails_on_an_answer_that_does_not_fit_the_schema(
    live_server: LiveServer, tmp_path: Path
) -> None:
    """The checks bite: against a description whose /status demands a field the server never
    sends, the same run reports the mismatch."""
    spec = yaml.safe_load(SPEC.read_text())
    spec["components"]["schemas"]["Status"]["required"].append("not_sent_by_the_server")
    wrong = tmp_path / "openapi.yaml"
    wrong.write_text(yaml.safe_dump(spec))
    result = run_schemathesis(
        live_server, PROFILES["bounded"], "--include-path", "/status", spec_path=wrong
    )
    assert result.exit_code != 0, result.output
    assert "not_sent_by_the_server" in result.output
    assert {failure["code"] for failure in result.report["failures"]} == {"ST108"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/models/fuzz-model/versions/%C2%B3", None),
        ("DELETE", "/models/fuzz-model/versions/%C2%B3", None),
        ("GET", "/models/fuzz-model/versions/%C2%B3/lineage", None),
        ("PUT", "/resources/fuzz.ipynb", {"gpus": "\u00b3"}),
    ],
)
def test_digits_int_refuses_are_invalid_input(
    live_server: LiveServer, method: str, path: str, body: object
) -> None:
    """Found by `make fuzz`: "³" passes str.isdigit() but not int(), and was a 500."""
    with pytest.raises(ApiError) as refused:
        live_server.call(method, path, body)
    assert refused.value.code in (400, 404), refused.value
