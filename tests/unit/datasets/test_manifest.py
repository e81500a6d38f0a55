"""Manifests, versions and the checks on what a user types."""

from __future__ import annotations

import pytest

from labrig.dataset_mounts.sources import (
    Entry,
    check_options,
    check_source_url,
    diff,
    manifest_version,
    mask,
    public_options,
)
from labrig.errors import InvalidInput

A = [Entry("a.bin", 3, "e1"), Entry("b/c.bin", 5, "e2", "v1")]


def test_version_is_a_stable_hash_of_source_and_every_entry() -> None:
    v = manifest_version("s3://b/p", None, A)
    assert v == manifest_version("s3://b/p", None, list(A))
    assert len(v) == 16
    assert v != manifest_version("s3://b/other", None, A)
    assert v != manifest_version("s3://b/p", "*.bin", A)
    assert v != manifest_version("s3://b/p", None, [A[0], Entry("b/c.bin", 5, "e3", "v1")])
    assert v != manifest_version("s3://b/p", None, [A[0], Entry("b/c.bin", 5, "e2", "v2")])
    assert v != manifest_version("s3://b/p", None, [A[0], Entry("b/c.bin", 6, "e2", "v1")])


def test_diff_counts_added_removed_and_modified() -> None:
    new = [Entry("a.bin", 3, "changed"), Entry("d.bin", 1, "x")]
    assert diff(A, new) == {"added": ["d.bin"], "removed": ["b/c.bin"], "modified": ["a.bin"]}
    assert diff(A, A) == {"added": [], "removed": [], "modified": []}


def test_entry_round_trips_and_knows_an_md5_etag() -> None:
    e = Entry("x", 1, '"5d41402abc4b2a76b9719d911017c592"', "v")
    assert Entry.from_json(e.as_json()) == e
    assert e.md5 == "5d41402abc4b2a76b9719d911017c592"
    assert Entry("x", 1, "abc-2").md5 is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "source_url is required"),
        ("ftp://host/x", "scheme 'ftp' is not supported"),
        ("mnist", "is not a URL"),
        ("s3://", "names no bucket"),
        ("https:///x", "names no host"),
        ("file://relative/path", "absolute file:///path"),
        ("s3://AKIAKEY:supersecret@bucket/x", "carries credentials"),
    ],
)
def test_bad_source_urls_are_named_with_what_to_do(url: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_source_url("ds", url)
    assert words in caught.value.message
    assert "'ds'" in caught.value.message
    assert caught.value.field == "source_url"
    assert "supersecret" not in caught.value.message


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"secret": "x"}, "options.secret"),
        ({"endpoint_url": "localhost:9000"}, "options.endpoint_url"),
        ({"region": "Not A Region"}, "options.region"),
        ({"anonymous": "yes"}, "options.anonymous"),
        ({"credentials_env": {"key": "not a var"}}, "options.credentials_env"),
        ({"credentials_env": {"password": "X"}}, "options.credentials_env"),
        ({"credentials_file": "relative.json"}, "options.credentials_file"),
        ({"anonymous": True, "credentials_env": {"key": "K"}}, "options.anonymous"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_options("ds", options)
    assert caught.value.field == field


def test_credentials_are_references_and_are_never_shown() -> None:
    options = check_options("ds", {"credentials_env": {"key": "K", "secret": "S"}, "region": "x-1"})
    assert public_options(options) == {"region": "x-1", "credentials": "environment"}
    with pytest.raises(InvalidInput, match="never pass credentials themselves"):
        check_options("ds", {"key": "AKIA..."})


def test_mask_hides_url_userinfo() -> None:
    assert mask("http://user:pw@host/x failed") == "http://****@host/x failed"
