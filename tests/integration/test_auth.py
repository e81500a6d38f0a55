"""Every verb of every labrig route refuses a request without valid credentials.

The routes come from the route table, so a handler added later without
``@web.authenticated``/``@authorized`` fails here. Each refusal is checked against the same
request with valid credentials, which must reach the handler: a refusal that comes from a
wrong URL rather than from authentication cannot pass.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from importlib.resources import files
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from tornado.httpclient import HTTPResponse
from tornado.httputil import url_concat

from labrig.handlers import ROUTES, routes
from labrig.jobs.tables import Job
from labrig.services import Services

VERBS = ("get", "post", "put", "patch", "delete")
BODY_VERBS = {"POST", "PUT", "PATCH"}
CASES = [
    (route, verb.upper()) for route, handler in routes() for verb in VERBS if verb in vars(handler)
]
STATE_CHANGING = [(route, method) for route, method in CASES if method != "GET"]
SPEC: dict[str, Any] = yaml.safe_load(files("labrig").joinpath("openapi.yaml").read_text())
GROUP = re.compile(r"\(\?P<(\w+)>([^)]*)\)")
WRONG_TOKEN = "not-the-server-token"
BAD_CREDENTIALS: dict[str, dict[str, Any]] = {
    "no credentials": {"headers": {"Authorization": ""}},
    "a wrong token header": {"headers": {"Authorization": f"token {WRONG_TOKEN}"}},
    "a wrong bearer token": {"headers": {"Authorization": f"Bearer {WRONG_TOKEN}"}},
    "an unknown labrig API token": {"headers": {"Authorization": "token labrig-kernel-unknown"}},
    "a wrong token in the URL": {
        "headers": {"Authorization": ""},
        "params": {"token": WRONG_TOKEN},
    },
}


def example_url(route: str) -> str:
    """A URL the route matches: each group becomes ``x``, or its first literal alternative."""

    def value(match: re.Match[str]) -> str:
        first = match.group(2).split("|")[0]
        return first if re.fullmatch(r"[\w-]+", first) else "x"

    return GROUP.sub(value, route).rstrip("?").rstrip("/")


async def send(jp_fetch: Any, url: str, method: str, **kwargs: Any) -> HTTPResponse:
    body = "{}" if method in BODY_VERBS else None
    response: HTTPResponse = await jp_fetch(
        url, method=method, body=body, raise_error=False, follow_redirects=False, **kwargs
    )
    return response


def assert_refused(response: HTTPResponse, what: str) -> None:
    assert response.code in (401, 403), f"{what} was not refused: {response.code} {response.body!r}"


def assert_reached_handler(response: HTTPResponse, what: str) -> None:
    """Not refused, and answered by labrig (its errors carry a reason; Jupyter's 404 page
    for an unrouted URL is HTML)."""
    assert response.code not in (401, 403), f"{what} was refused: {response.body!r}"
    if response.code >= 400:
        assert "reason" in json.loads(response.body), response.body


def test_the_route_table_is_not_empty() -> None:
    assert len(CASES) >= len(ROUTES)
    assert STATE_CHANGING


@pytest.mark.parametrize("route", [route for route, _ in routes()])
def test_each_example_url_is_matched_by_its_own_route(route: str) -> None:
    assert re.fullmatch(route, example_url(route)), example_url(route)


@pytest.mark.parametrize(("route", "method"), CASES)
async def test_requests_without_valid_credentials_are_refused(
    jp_fetch: Any, route: str, method: str
) -> None:
    url = example_url(route)
    for what, credentials in BAD_CREDENTIALS.items():
        assert_refused(
            await send(jp_fetch, url, method, **credentials), f"{method} {url} with {what}"
        )
    # jp_fetch sends the server's token unless told otherwise.
    assert_reached_handler(await send(jp_fetch, url, method), f"{method} {url} with the token")


# --- streams and downloads -------------------------------------------------------------------


def non_json_gets() -> set[str]:
    """Documented GETs whose answer is a stream or a file rather than JSON."""
    return {
        path
        for path, ops in SPEC["paths"].items()
        if "get" in ops and "application/json" not in ops["get"]["responses"]["200"]["content"]
    }


def route_of(spec_path: str) -> str:
    concrete = re.sub(r"\{(\w+)\}", "x", spec_path)
    matching = [route for route, _ in routes() if re.fullmatch(route, f"/labrig/api/v1{concrete}")]
    assert matching, f"{spec_path} is documented but not in the route table"
    return matching[0]


def seed_stream_and_downloads(services: Services, server_root: Path, tmp_path: Path) -> None:
    """A finished job with an output notebook, and a model version with a file."""
    output = server_root / "out" / "train.ipynb"
    output.parent.mkdir(parents=True)
    output.write_text(json.dumps(nbformat.v4.new_notebook()))
    with services.db.session() as session:
        session.add(
            Job(
                id="job-1",
                name="train",
                notebook_path="train.ipynb",
                status="SUCCEEDED",
                created_at=datetime.now(UTC),
                finished_at=datetime.now(UTC),
                output_path="out/train.ipynb",
            )
        )
    (tmp_path / "model.bin").write_bytes(b"weights")
    services.models.register("resnet-mini", tmp_path / "model.bin")


EXISTING_STREAMS_AND_DOWNLOADS = {
    "/jobs/{job_id}/events": ("jobs/job-1/events", "text/event-stream"),
    "/jobs/{job_id}/output": ("jobs/job-1/output", "application/x-ipynb+json"),
    "/models/{name}/versions/{version}/files/{path}": (
        "models/resnet-mini/versions/1/files/model.bin",
        "application/octet-stream",
    ),
}


def test_every_stream_and_download_is_routed_and_covered() -> None:
    documented = non_json_gets()
    assert documented == set(EXISTING_STREAMS_AND_DOWNLOADS)
    for path in documented:
        assert (route_of(path), "GET") in CASES


@pytest.mark.parametrize("spec_path", sorted(EXISTING_STREAMS_AND_DOWNLOADS))
async def test_streams_and_downloads_of_existing_objects_need_valid_credentials(
    jp_fetch: Any,
    server_services: Services,
    jp_root_dir: Path,
    tmp_path: Path,
    spec_path: str,
) -> None:
    seed_stream_and_downloads(server_services, jp_root_dir, tmp_path)
    path, content_type = EXISTING_STREAMS_AND_DOWNLOADS[spec_path]
    url = f"labrig/api/v1/{path}"
    allowed = await send(jp_fetch, url, "GET")
    assert allowed.code == 200, allowed.body
    assert allowed.headers["Content-Type"].startswith(content_type)
    assert allowed.body
    for what, credentials in BAD_CREDENTIALS.items():
        refused = await send(jp_fetch, url, "GET", **credentials)
        assert_refused(refused, f"GET {url} with {what}")
        assert allowed.body not in refused.body


# --- cookie authentication and XSRF ----------------------------------------------------------


class Browser:
    """Cookies as a browser keeps them: a login through Jupyter's login form with the token."""

    def __init__(self, jp_fetch: Any) -> None:
        self.jp_fetch = jp_fetch
        self.cookies: dict[str, str] = {}

    def keep(self, response: HTTPResponse) -> None:
        for header in response.headers.get_list("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value

    def cookie_header(self, names: set[str]) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items() if k in names)

    @property
    def login_cookie(self) -> str:
        (name,) = (name for name in self.cookies if name != "_xsrf")
        return name

    async def log_in(self, token: str) -> None:
        page = await self.jp_fetch("login", headers={"Authorization": ""}, raise_error=False)
        assert page.code == 200, page.code
        self.keep(page)
        xsrf = self.cookies["_xsrf"]
        reply = await self.jp_fetch(
            "login",
            method="POST",
            body=url_concat("", {"password": token, "_xsrf": xsrf}).lstrip("?"),
            headers={"Authorization": "", "Cookie": f"_xsrf={xsrf}"},
            follow_redirects=False,
            raise_error=False,
        )
        assert reply.code == 302, (reply.code, reply.body)
        self.keep(reply)
        assert self.login_cookie

    async def send(self, url: str, method: str, *, with_xsrf: bool) -> HTTPResponse:
        headers = {"Authorization": ""}
        if with_xsrf:
            headers["Cookie"] = self.cookie_header({self.login_cookie, "_xsrf"})
            headers["X-XSRFToken"] = self.cookies["_xsrf"]
        else:
            headers["Cookie"] = self.cookie_header({self.login_cookie})
        return await send(self.jp_fetch, url, method, headers=headers)


async def logged_in(jp_fetch: Any, jp_serverapp: Any) -> Browser:
    browser = Browser(jp_fetch)
    await browser.log_in(jp_serverapp.identity_provider.token)
    return browser


@pytest.mark.parametrize(("route", "method"), STATE_CHANGING)
async def test_cookie_requests_that_change_state_need_the_xsrf_token(
    jp_fetch: Any, jp_serverapp: Any, route: str, method: str
) -> None:
    browser = await logged_in(jp_fetch, jp_serverapp)
    url = example_url(route)
    assert_refused(await browser.send(url, method, with_xsrf=False), f"{method} {url} without XSRF")
    assert_reached_handler(
        await browser.send(url, method, with_xsrf=True), f"{method} {url} with cookie and XSRF"
    )


async def test_a_forged_login_cookie_is_refused_everywhere(
    jp_fetch: Any, jp_serverapp: Any
) -> None:
    """The login cookie is signed: one with a changed value is no login at all."""
    browser = await logged_in(jp_fetch, jp_serverapp)
    name = browser.login_cookie
    browser.cookies[name] = browser.cookies[name][:-4] + "AAAA"
    for route, method in CASES:
        url = example_url(route)
        refused = await browser.send(url, method, with_xsrf=True)
        assert_refused(refused, f"{method} {url} with a forged login cookie")
