"""What the JuiceFS and Thin runtimes need before labrig builds them: each missing setting is
refused by name (a runtime Fluid cannot start is never created), and the settings a platform
engineer gives reach the manifests."""

from __future__ import annotations

from dataclasses import replace

import pytest
from traitlets.config import Config

from labrig.k8s import fluid_manifests as fm
from labrig.k8s.fluid import FluidDatasetCache

VOLUME = fm.JuiceFSVolume(
    secret="jfs-volume",
    keys={"metaurl": "meta"},
    root="/jfs",
    storage="s3",
    bucket="https://jfs.s3.eu-west-1.amazonaws.com",
)
IN_VOLUME = fm.VersionSource(
    dataset="mnist", version="0" * 16, source_url="file:///jfs/mnist", bytes=1
)


def juicefs(volume: fm.JuiceFSVolume) -> fm.DatasetSettings:
    return fm.DatasetSettings(namespace="ml", runtime_kind="juicefs", juicefs=volume)


@pytest.mark.parametrize(
    ("volume", "named"),
    [
        (replace(VOLUME, secret=""), "FluidDatasetCache.juicefs_secret is not set"),
        (replace(VOLUME, keys={"access-key": "ak"}), "juicefs_secret_keys names no 'metaurl'"),
        (replace(VOLUME, root=""), "FluidDatasetCache.juicefs_root is not set"),
        (replace(VOLUME, bucket=""), "juicefs_storage and FluidDatasetCache.juicefs_bucket go"),
        (replace(VOLUME, storage=""), "juicefs_storage and FluidDatasetCache.juicefs_bucket go"),
    ],
)
def test_a_juicefs_runtime_without_a_usable_volume_is_refused_by_setting(
    volume: fm.JuiceFSVolume, named: str
) -> None:
    for build in (fm.fluid_dataset, fm.runtime):
        with pytest.raises(fm.SettingMissing, match=named):
            build(juicefs(volume), IN_VOLUME)


@pytest.mark.parametrize(
    "url", ["s3://bucket/mnist", "file:///data/mnist", "file:///jfsx/mnist", "oss://b/x"]
)
def test_a_juicefs_dataset_must_be_a_directory_of_the_volume(url: str) -> None:
    outside = replace(IN_VOLUME, source_url=url)
    with pytest.raises(fm.SettingMissing) as caught:
        fm.fluid_dataset(juicefs(VOLUME), outside)
    assert f"{url} is not a directory of the JuiceFS volume mounted at /jfs" in str(caught.value)
    assert "runtime_kind to 'alluxio'" in str(caught.value)


def test_a_formatted_volume_needs_no_storage_and_the_keys_it_is_given_only() -> None:
    formatted = replace(VOLUME, storage="", bucket="")
    at_root = replace(IN_VOLUME, source_url="file:///jfs")
    mount = fm.fluid_dataset(juicefs(formatted), at_root)["spec"]["mounts"][0]
    assert mount["mountPoint"] == "juicefs:///"
    assert "options" not in mount  # Fluid formats nothing
    assert mount["encryptOptions"] == [
        {"name": "metaurl", "valueFrom": {"secretKeyRef": {"name": "jfs-volume", "key": "meta"}}}
    ]


def test_a_thin_runtime_without_a_profile_is_refused_and_with_one_names_it() -> None:
    thin = fm.DatasetSettings(namespace="ml", runtime_kind="thin")
    with pytest.raises(fm.SettingMissing, match=r"FluidDatasetCache\.thin_profile is not set"):
        fm.runtime(thin, IN_VOLUME)
    built = fm.runtime(replace(thin, thin_profile="s3fs"), IN_VOLUME)
    assert built["spec"]["profileName"] == "s3fs"
    assert "tieredstore" not in built["spec"]


def test_the_cache_settings_carry_the_juicefs_volume() -> None:
    config = Config()
    config.FluidDatasetCache.namespace = "ml"
    config.FluidDatasetCache.runtime_kind = "juicefs"
    config.FluidDatasetCache.juicefs_secret = "jfs-volume"
    config.FluidDatasetCache.juicefs_secret_keys = {"metaurl": "meta"}
    config.FluidDatasetCache.juicefs_root = "/jfs"
    config.FluidDatasetCache.juicefs_storage = "oss"
    config.FluidDatasetCache.juicefs_bucket = "https://jfs.oss-cn-hangzhou.aliyuncs.com"
    volume = FluidDatasetCache(config=config).settings().juicefs
    assert volume == fm.JuiceFSVolume(
        secret="jfs-volume",
        keys={"metaurl": "meta"},
        root="/jfs",
        name="labrig-datasets",
        storage="oss",
        bucket="https://jfs.oss-cn-hangzhou.aliyuncs.com",
    )


def test_the_cache_capabilities_say_a_runtime_cannot_warm_yet_and_why() -> None:
    config = Config()
    config.FluidDatasetCache.namespace = "ml"
    config.FluidDatasetCache.runtime_kind = "thin"
    assert FluidDatasetCache(config=config).capabilities() == {
        "datasets.cache": "Fluid ThinRuntime in namespace ml (cannot warm yet: "
        "FluidDatasetCache.thin_profile is not set: a ThinRuntime needs the name of a "
        "ThinRuntimeProfile installed in the cluster (`kubectl get thinruntimeprofiles`))"
    }
    config.FluidDatasetCache.thin_profile = "s3fs"
    assert FluidDatasetCache(config=config).capabilities() == {
        "datasets.cache": "Fluid ThinRuntime in namespace ml"
    }
