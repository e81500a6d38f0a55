"""Every verb of every labrig route refuses an unauthenticated request.

The routes come from the route table, so a handler added later without
``@web.authenticated``/``@authorized`` fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from labrig.handlers import ROUTES, routes

VERBS = ("get", "post", "put", "patch", "delete")
CASES = [
    (route, verb.upper()) for route, handler in routes() for verb in VERBS if verb in vars(handler)
]


def example_url(route: str) -> str:
    return re.sub(r"\(\?P<\w+>[^)]*\)", "x", route).rstrip("?").rstrip("/")


def test_the_route_table_is_not_empty() -> None:
    assert len(CASES) >= len(ROUTES)


@pytest.mark.parametrize(("route", "method"), CASES)
async def test_unauthenticated_requests_are_refused(jp_fetch: Any, route: str, method: str) -> None:
    body = "{}" if method in {"POST", "PUT", "PATCH"} else None
    with pytest.raises(HTTPClientError) as caught:
        # An empty Authorization header replaces the test token jp_fetch would send.
        await jp_fetch(example_url(route), method=method, body=body, headers={"Authorization": ""})
    assert caught.value.code in (401, 403), caught.value
