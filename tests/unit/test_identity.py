"""Who a process outside the server acts as, and what owning a record means."""

from __future__ import annotations

import getpass

import pytest

from labrig import identity


def test_labrig_user_then_the_hub_user_then_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABRIG_USER", "alice")
    monkeypatch.setenv("JUPYTERHUB_USER", "hub-alice")
    assert identity.current() == identity.Principal("alice")
    monkeypatch.setenv("LABRIG_USER", " ")
    assert identity.process_user() == "hub-alice"
    monkeypatch.delenv("JUPYTERHUB_USER")
    assert identity.process_user() == getpass.getuser()


def test_acting_as_wins_inside_the_block_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABRIG_USER", "alice")
    with identity.acting_as(identity.Principal("bob", admin=True)) as bob:
        assert identity.current() is bob
    assert identity.current().name == "alice"


def test_owning_a_record() -> None:
    alice, admin = identity.Principal("alice"), identity.Principal("root", admin=True)
    assert alice.owns("alice")
    assert not alice.owns("bob")
    assert alice.owns(None)  # a record from before owners belongs to everyone
    assert admin.owns("bob")
