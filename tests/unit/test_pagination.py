from __future__ import annotations

import pytest

from labrig.errors import InvalidInput
from labrig.services import Services
from labrig.store import PageRequest


@pytest.mark.parametrize(("raw", "expected"), [(None, 50), ("", 50), ("1", 1), ("500", 500)])
def test_limit_parses(raw: str | None, expected: int) -> None:
    assert PageRequest.parse(raw, None).limit == expected


@pytest.mark.parametrize("raw", ["0", "501", "-5", "abc", "2.0", " "])
def test_limit_rejects(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        PageRequest.parse(raw, None)
    assert caught.value.field == "limit"


def test_model_names_page_in_order(services: Services) -> None:
    names = [f"model-{i:03d}" for i in range(12)]
    for name in reversed(names):
        services.models.create({"name": name})
    first = services.models.list(PageRequest(limit=5))
    second = services.models.list(PageRequest(limit=5, page_token=first.next_page_token))
    third = services.models.list(PageRequest(limit=5, page_token=second.next_page_token))
    got = [m["name"] for page in (first, second, third) for m in page.items]
    assert got == names
    assert third.next_page_token is None
