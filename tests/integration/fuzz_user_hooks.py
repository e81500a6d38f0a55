"""schemathesis checks for the fuzz run as one user against another's objects (``fuzz_users.py``),
loaded by ``st`` through SCHEMATHESIS_HOOKS, with ``fuzz_hooks`` (which stops what runs).

From the environment: LABRIG_FUZZ_HIDDEN maps each identifier the rules hide from the caller to
a stand-in nobody uses and the routes it names an object on; LABRIG_FUZZ_SECRETS lists names no
answer may show; LABRIG_FUZZ_OTHERS names the other user (owner), their visible model (its
versions), shared dataset and the notebook whose resource request is theirs.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import fuzz_hooks  # noqa: F401 - its after_call hook cancels the jobs the fuzzer starts
import requests
import schemathesis

HIDDEN: dict[str, list[str]] = json.loads(os.environ.get("LABRIG_FUZZ_HIDDEN", "{}"))
SECRETS: list[str] = json.loads(os.environ.get("LABRIG_FUZZ_SECRETS", "[]"))
OTHERS: dict[str, Any] = json.loads(os.environ.get("LABRIG_FUZZ_OTHERS", "{}"))
WRITES = ("POST", "PUT", "PATCH", "DELETE")
#: What only a shared dataset's owner may do (anyone may warm and mount it).
OWNERS_ONLY = ("/datasets/{name}", "/datasets/{name}/refresh", "/datasets/{name}/refresh/confirm")


def message(response: requests.Response | schemathesis.Response) -> Any:
    """The error message of a JSON answer (the body itself when it is not one)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return response.content
    return body.get("message", body) if isinstance(body, dict) else body


def replayed_with(response: schemathesis.Response, real: str, stand_in: str) -> requests.Response:
    """The same request with the path segment ``real`` replaced by ``stand_in``."""
    sent = response.request
    parts = urlsplit(str(sent.url))
    segments = [stand_in if unquote(part) == real else part for part in parts.path.split("/")]
    url = urlunsplit(parts._replace(path="/".join(segments)))
    return requests.request(
        str(sent.method), url, headers=dict(sent.headers), data=sent.body, timeout=60
    )


@schemathesis.check
def hidden_answers_as_missing(ctx: Any, response: schemathesis.Response, case: Any) -> None:
    """Another user's hidden job, schedule, snapshot or private dataset in a path answers as an
    identifier nobody uses does: the same status and, but for the identifier, the same message
    (messages may shorten ids to their first 8 characters)."""
    for real in {str(value) for value in (case.path_parameters or {}).values()} & set(HIDDEN):
        stand_in, routes = HIDDEN[real]
        if not case.operation.path.startswith(routes):
            continue
        missing = replayed_with(response, real, stand_in)
        expected = json.dumps(message(missing), default=str)
        for old, new in ((stand_in, real), (stand_in[:8], real[:8])):
            expected = expected.replace(old, new)
        seen = json.dumps(message(response), default=str)
        if (response.status_code, seen) != (missing.status_code, expected):
            raise AssertionError(
                f"{real!r}, hidden from this user, answered {response.status_code} {seen}; "
                f"an unused {stand_in!r} answers {missing.status_code} {expected}"
            )


@schemathesis.check
def nothing_hidden_in_answer(ctx: Any, response: schemathesis.Response, case: Any) -> None:
    """No answer shows a hidden name the caller did not send."""
    sent = unquote(str(response.request.url))
    body = response.request.body
    sent += body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    text = response.content.decode(errors="replace")
    leaked = [name for name in SECRETS if name in text and name not in sent]
    if leaked:
        raise AssertionError(f"the answer shows {leaked}, hidden from this user: {text[:500]}")


def rule_of(case: Any) -> tuple[str, str] | None:
    """For a request on the other user's visible objects: ('refused', text a 403 names) or
    ('allowed', why it is not to be refused); None for other requests."""
    method, path = case.method.upper(), case.operation.path
    params = {key: str(value) for key, value in (case.path_parameters or {}).items()}
    if params.get("name") == OTHERS.get("model") and path.startswith("/models/"):
        if method == "GET":
            return "allowed", "models are readable by all"
        if path == "/models/{name}/versions" and method == "POST":
            return "allowed", "model_register_policy lets anyone"
        if path == "/models/{name}/aliases/{alias}" and method in ("PUT", "DELETE"):
            return "refused", "model_alias_policy"
        if method == "DELETE" and (
            path == "/models/{name}"
            or (path.endswith("{version}") and params["version"] in OTHERS["model_versions"])
        ):
            return "refused", "model_delete_policy"
    if params.get("name") == OTHERS.get("dataset") and method in WRITES and path in OWNERS_ONLY:
        return "refused", f"added by {OTHERS['owner']}"
    notebook = params.get("notebook_path") == OTHERS.get("notebook")
    if notebook and path == "/resources/{notebook_path}" and method in ("PUT", "DELETE"):
        return "refused", f"belongs to {OTHERS['owner']}"
    return None


@schemathesis.check
def others_writes_follow_rules(ctx: Any, response: schemathesis.Response, case: Any) -> None:
    """Writes to the other user's model, shared dataset and resource request are refused (a 403
    names the rule), or not refused where the policy lets anyone; their model is read freely."""
    rule = rule_of(case)
    if rule is None:
        return
    verdict, named = rule
    status = response.status_code
    if verdict == "allowed" and status == 403:
        raise AssertionError(f"refused, though {named}: {message(response)}")
    if verdict == "refused" and 200 <= status < 300:
        raise AssertionError(f"allowed, though only the owner may ({named}): {status}")
    if verdict == "refused" and status == 403 and named not in str(message(response)):
        raise AssertionError(f"a 403 that does not name {named!r}: {message(response)}")


def answered_before_authentication(response: schemathesis.Response) -> bool:
    """What comes before any handler code, telling a caller nothing and doing nothing: a 405
    for a verb the route does not answer (the routes are the public spec), Tornado's 400 for a
    body it cannot parse (``multipart/form-data`` without a boundary), and Jupyter's empty answer
    to an OPTIONS request (the CORS preflight, which browsers send without credentials)."""
    if response.status_code == 405:
        return True
    if response.request.method == "OPTIONS":
        return response.status_code == 200 and not response.content
    return response.status_code == 400 and str(message(response)).startswith("Invalid body:")


@schemathesis.check
def refused_without_credentials(ctx: Any, response: schemathesis.Response, case: Any) -> None:
    """Without credentials, or with a token nobody has, every operation is refused."""
    if response.status_code in (401, 403) or answered_before_authentication(response):
        return
    raise AssertionError(
        f"answered {response.status_code} without valid credentials: {response.content[:300]!r}"
    )
