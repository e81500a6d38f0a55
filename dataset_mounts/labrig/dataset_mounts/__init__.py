"""Datasets: the catalog, the host-wide cache and the mounts kernels and jobs see."""
