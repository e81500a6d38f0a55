"""Profiles in KubeSpawner profile_list style: values, custom values within bounds, bad config."""

from __future__ import annotations

from pathlib import Path

import pytest
from resources_kit import make_service
from traitlets import TraitError

from labrig.errors import InvalidInput
from labrig.resources.service import ResourceService

PROFILES = [
    {
        "display_name": "GPU small",
        "description": "1 A100, 4 CPUs",
        "cpu": 4,
        "memory": "16Gi",
        "gpus": 1,
        "gpu_type": "A100-SXM4-80GB",
        "disk": "50Gi",
    },
    {
        "slug": "flex",
        "display_name": "Flexible",
        "default": True,
        "cpu": "500m",
        "memory": "1Gi",
        "allow_custom": True,
        "bounds": {"cpu": {"min": "250m", "max": 2}, "memory": {"max": "4Gi"}, "gpus": {"max": 1}},
    },
]


@pytest.fixture
def service(db_url: str, tmp_path: Path) -> ResourceService:
    (tmp_path / "work").mkdir()
    return make_service(
        db_url, tmp_path, profile_list=PROFILES, capacity_cpus=8.0, capacity_memory="64Gi"
    )


def test_a_profile_gives_its_values_and_a_slug_from_its_name(service: ResourceService) -> None:
    request = service.resolve("a.ipynb", {"profile": "gpu-small"})
    assert (request.cpus, request.memory, request.gpus, request.gpu_type, request.disk) == (
        4.0,
        16 * 2**30,
        1,
        "A100-SXM4-80GB",
        50 * 2**30,
    )
    assert [p.slug for p in service.profiles()] == ["gpu-small", "flex"]
    assert service.default_profile().slug == "flex"  # type: ignore[union-attr]


def test_custom_values_start_from_the_default_profile_within_its_bounds(
    service: ResourceService,
) -> None:
    request = service.resolve("a.ipynb", {"cpus": 2, "memory": "3Gi"})
    assert (request.profile, request.cpus, request.memory) == ("flex", 2.0, 3 * 2**30)
    for body, field, message in [
        ({"cpus": "100m"}, "cpus", "below profile 'flex''s minimum of 0.25 CPUs"),
        ({"cpus": 3}, "cpus", "above profile 'flex''s maximum of 2 CPUs"),
        ({"memory": "5Gi"}, "memory", "above profile 'flex''s maximum of 4 GiB"),
        ({"gpus": 2}, "gpus", "maximum of 1"),
        ({"profile": "gpu-small", "memory": "1Gi"}, "memory", "does not allow custom values"),
    ]:
        with pytest.raises(InvalidInput, match=message) as caught:
            service.resolve("a.ipynb", body)
        assert caught.value.field == field


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ([{"display_name": "x", "mem": "1Gi"}], "unknown keys"),
        ([{"description": "no name"}], "needs a display_name"),
        ([{"display_name": "x", "memory": "4GB"}], "4Gi, 4096Mi"),
        ([{"display_name": "x", "bounds": {"cpu": {"top": 2}}}], "bounds"),
        ([{"display_name": "A"}, {"display_name": "a"}], "duplicate slugs"),
    ],
)
def test_bad_profile_config_is_refused_at_start(
    db_url: str, tmp_path: Path, profiles: list[dict[str, object]], message: str
) -> None:
    (tmp_path / "work").mkdir(exist_ok=True)
    with pytest.raises(TraitError, match=message):
        make_service(db_url, tmp_path, profile_list=profiles)
