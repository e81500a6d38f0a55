"""schemathesis with two identities on a live server (the bounded profile; ``make fuzz`` runs
longer): alice owns the seeded objects, the fuzzer is bob, then nobody. No 5xx, every answer as
documented, alice's hidden objects answer bob as missing ones do and never show in his answers,
her models, shared dataset and resource request take his writes only where the policies say."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fuzz_api import PROFILES, FuzzResult, LiveServer, run_schemathesis, server_errors_logged
from fuzz_users import (
    ALICES_VISIBLE,
    REFUSALS,
    USERS,
    WRONG_TOKEN,
    AlicesHidden,
    alices_objects,
    as_bob,
    as_bob_directly,
    seed_alice,
    without_credentials,
)
from test_fuzz_api import DOCUMENTED_OPERATIONS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def alices_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, AlicesHidden]]:
    server = LiveServer(tmp_path_factory.mktemp("fuzz-users"), users=USERS)
    with server.running():
        hidden = seed_alice(server)
        yield server, hidden


def assert_every_operation_tested(result: FuzzResult) -> None:
    report = result.report
    assert report["operations"]["selected"] == DOCUMENTED_OPERATIONS
    assert report["operations"]["tested"] == DOCUMENTED_OPERATIONS, report["operations"]
    assert report["operations"]["skipped"] == 0


@pytest.mark.timeout(900)
def test_bob_fuzzing_every_operation_with_alices_ids_finds_nothing_of_hers(
    alices_server: tuple[LiveServer, AlicesHidden],
) -> None:
    server, hidden = alices_server
    before = alices_objects(server, hidden)
    result = run_schemathesis(server, PROFILES["bounded"], caller=as_bob(hidden))
    print(result.summary())
    assert result.exit_code == 0, result.output[-20000:]
    assert_every_operation_tested(result)
    assert server_errors_logged(server) == []
    # Nothing bob sent changed what alice owns.
    assert alices_objects(server, hidden) == before


@pytest.mark.timeout(900)
@pytest.mark.parametrize("token", [None, WRONG_TOKEN], ids=["anonymous", "wrong"])
def test_every_operation_refuses_fuzzing_without_valid_credentials(
    alices_server: tuple[LiveServer, AlicesHidden], token: str | None
) -> None:
    server, _ = alices_server
    result = run_schemathesis(server, REFUSALS["bounded"], caller=without_credentials(token))
    print(result.summary())
    assert result.exit_code == 0, result.output[-20000:]
    assert_every_operation_tested(result)


def test_the_checks_speak_the_servers_words(
    alices_server: tuple[LiveServer, AlicesHidden],
) -> None:
    """What the write rule looks for in a 403 is what the server says, and registering is
    anyone's: bob's own version of alice's model is his to delete."""
    server, _ = alices_server
    model, dataset = ALICES_VISIBLE["model"], ALICES_VISIBLE["dataset"]
    code, refused = as_bob_directly(server, "PUT", f"/models/{model}/aliases/x", {"version": 1})
    assert (code, "model_alias_policy" in refused["message"]) == (403, True), refused
    code, refused = as_bob_directly(server, "DELETE", f"/models/{model}/versions/1")
    assert (code, "model_delete_policy" in refused["message"]) == (403, True), refused
    code, refused = as_bob_directly(server, "DELETE", f"/datasets/{dataset}")
    assert (code, "added by alice" in refused["message"]) == (403, True), refused
    resources = f"/resources/{ALICES_VISIBLE['notebook']}"
    code, refused = as_bob_directly(server, "PUT", resources, {"cpus": 1})
    assert (code, "belongs to alice" in refused["message"]) == (403, True), refused
    code, version = as_bob_directly(
        server, "POST", f"/models/{model}/versions", {"path": "model.bin"}
    )
    assert (code, version["user"]) == (201, "bob"), version
    path = f"/models/{model}/versions/{version['version']}"
    assert as_bob_directly(server, "DELETE", path)[0] == 204


@pytest.mark.parametrize(
    "planted",
    [
        {"LABRIG_FUZZ_SECRETS": '["alice"]'},
        {"LABRIG_FUZZ_HIDDEN": '{"fuzz-data": ["nobody-s-data", "/datasets/"]}'},
    ],
    ids=["the-owners-name-called-secret", "a-visible-dataset-called-hidden"],
)
def test_the_rules_between_users_fail_the_run_when_broken(
    alices_server: tuple[LiveServer, AlicesHidden], planted: dict[str, str]
) -> None:
    """The checks bite: calling alice's name (which her shared dataset shows bob as its owner)
    or that dataset hidden makes the run fail, as a leak would."""
    server, hidden = alices_server
    bob = as_bob(hidden)
    caller = replace(bob, env={**bob.env, **planted})
    result = run_schemathesis(
        server, PROFILES["bounded"], "--include-path", "/datasets/{name}", caller=caller
    )
    assert result.exit_code != 0, result.output
    assert "hidden from this user" in result.output
