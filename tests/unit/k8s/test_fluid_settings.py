"""The dataset cache finds the cluster settings wherever the configuration gives them."""

from __future__ import annotations

from traitlets.config import Config

from labrig.k8s.fluid import FluidDatasetCache


def test_the_pods_shared_settings_apply_to_the_dataset_cache() -> None:
    config = Config()
    config.KubernetesPodSettings.namespace = "vision"
    config.KubernetesPodSettings.labels = {"team": "vision"}
    cache = FluidDatasetCache(config=config)
    assert cache.namespace == "vision"
    assert cache.settings().labels == {"team": "vision"}


def test_the_job_backends_settings_come_first_and_its_own_win() -> None:
    config = Config()
    config.KubernetesPodSettings.namespace = "vision"
    config.KubernetesJobBackend.namespace = "ml"
    assert FluidDatasetCache(config=config).namespace == "ml"
    config.FluidDatasetCache.namespace = "datasets"
    assert FluidDatasetCache(config=config).namespace == "datasets"
