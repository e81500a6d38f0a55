"""What the REST-backed services lack is refused with a message saying why and where to use
it, never a bare AttributeError; and asking for it sends nothing to the server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from labrig.errors import LabrigError
from labrig.rest import MissingOverRest, NotOverRest, RestServices
from labrig.rest.http import ApiClient

#: Nothing listens here: a refusal that made a request would say the server is unreachable.
NOWHERE = "http://127.0.0.1:9/"


@pytest.fixture
def services() -> RestServices:
    return RestServices(ApiClient(NOWHERE, "token"))


@pytest.mark.parametrize(
    ("reach", "named"),
    [
        (lambda s: s.db, "labrig.connect().db"),
        (lambda s: s.job_backend, "labrig.connect().job_backend"),
        (lambda s: s.models.register_job_outputs, "labrig.connect().models.register_job_outputs"),
        (lambda s: s.datasets.resume_warmups, "labrig.connect().datasets.resume_warmups"),
        (lambda s: s.jobs.tick, "labrig.connect().jobs.tick"),
        (lambda s: s.resources.check_scratch, "labrig.connect().resources.check_scratch"),
    ],
)
def test_what_rest_mode_lacks_is_refused_naming_it(
    services: RestServices, reach: Callable[[RestServices], object], named: str
) -> None:
    with pytest.raises(MissingOverRest) as caught:
        reach(services)
    assert isinstance(caught.value, LabrigError)
    assert caught.value.message.startswith(f"{named} is not available here: ")
    assert "Use it in the server's terminal" in caught.value.message


def test_refusals_keep_hasattr_and_getattr_defaults_working(services: RestServices) -> None:
    assert not hasattr(services, "db")
    assert getattr(services.models, "gc_blobs", None) is None
    with pytest.raises(AttributeError) as caught:
        services._private  # noqa: B018  # private names stay plain AttributeErrors
    assert not isinstance(caught.value, LabrigError)


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda s: s.models.gc(), "run `labrig models gc` in the server's terminal"),
        (lambda s: s.datasets.evict(), "run `labrig datasets cache --evict`"),
        (lambda s: s.datasets.kernel_env("nb.ipynb"), "has them already as LABRIG_DATASET_"),
    ],
)
def test_what_needs_the_servers_host_says_where_to_run_it(
    services: RestServices, call: Callable[[RestServices], object], says: str
) -> None:
    with pytest.raises(NotOverRest) as caught:
        call(services)
    assert says in caught.value.message
