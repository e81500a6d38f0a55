"""Datasets benchmark: labrig's cold warm-up and warm reads against fsspec peers, one run.

The source is moto's S3 server in its own process on loopback (in-process, its GIL would be
the bottleneck). Printed as ratios against peers measured in the same run:

- cold: labrig warm-up vs plain sequential s3fs reads, s3fs's concurrent ``cat``, and reading
  through ``filecache::s3://`` and ``simplecache::s3://`` (fsspec defaults);
- warm: reading every byte once through the labrig mount vs the same bytes from a plain local
  directory (made with ``cp -r``), and vs a warm ``filecache``.

    .venv/bin/python bench/bench_datasets.py          # 2000 x 256 KiB + 8 x 64 MiB (the issue's)
    .venv/bin/python bench/bench_datasets.py --small 400 --big 2   # a smaller run
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fsspec
import s3fs

from labrig.jobs.supervisor import free_port

KEY, SECRET = "bench-key", "bench-secret"
BUCKET, PREFIX = "bench", "data"


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto did not start")


def s3(endpoint: str) -> s3fs.S3FileSystem:
    return s3fs.S3FileSystem(
        key=KEY,
        secret=SECRET,
        endpoint_url=endpoint,
        client_kwargs={"region_name": "us-east-1"},
        skip_instance_cache=True,
    )


def upload(endpoint: str, small: int, big: int) -> dict[str, int]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    sizes = {}

    def put(item: tuple[str, int]) -> None:
        name, size = item
        client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{name}", Body=os.urandom(size))

    items = [(f"small/{i:05d}.bin", 256 * 1024) for i in range(small)]
    items += [(f"big/{i:02d}.bin", 64 * 2**20) for i in range(big)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, items))
    sizes.update(items)
    return sizes


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def read_tree(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                while chunk := f.read(4 * 2**20):
                    total += len(chunk)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000, help="256 KiB files")
    parser.add_argument("--big", type=int, default=8, help="64 MiB files")
    parser.add_argument("--workers", type=int, default=16, help="LocalDatasetCache.workers")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="labrig-bench-"))
    proc, endpoint = start_moto()
    try:
        sizes = upload(endpoint, args.small, args.big)
        total = sum(sizes.values())
        names = sorted(sizes)
        urls = [f"{BUCKET}/{PREFIX}/{n}" for n in names]
        results: dict[str, float] = {}

        def sequential() -> None:
            fs = s3(endpoint)
            out = work / "seq"
            for url, name in zip(urls, names, strict=True):
                dest = out / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(fs.cat_file(url))

        def concurrent_cat() -> None:
            fs = s3(endpoint)
            data = fs.cat(urls)
            assert sum(len(v) for v in data.values()) == total

        def through_cache(kind: str) -> Callable[[], None]:
            def run() -> None:
                storage = work / kind
                opts = {
                    "s3": {
                        "key": KEY,
                        "secret": SECRET,
                        "endpoint_url": endpoint,
                        "client_kwargs": {"region_name": "us-east-1"},
                    },
                    kind: {"cache_storage": str(storage)},
                }
                n = 0
                for url in urls:
                    with fsspec.open(f"{kind}::s3://{url}", "rb", **opts) as f:
                        n += len(f.read())
                assert n == total

            return run

        results["s3fs sequential"] = timed(sequential)
        results["s3fs concurrent cat"] = timed(concurrent_cat)
        results["filecache::s3 cold"] = timed(through_cache("filecache"))
        results["simplecache::s3 cold"] = timed(through_cache("simplecache"))

        os.environ["LABRIG_DATA_DIR"] = str(work / "labrig")
        from labrig.app import LabrigApp
        from labrig.services import build_services

        app = LabrigApp(data_dir=str(work / "labrig"))
        app.config.DatasetCache.mount_root = str(work / "mounts")
        app.config.LocalDatasetCache.workers = args.workers
        app.config.DatasetCache.allowed_credentials_env = ["BENCH_*"]
        services = build_services(app)
        catalog = services.datasets
        os.environ["BENCH_KEY"], os.environ["BENCH_SECRET"] = KEY, SECRET
        catalog.create(
            {
                "name": "bench",
                "source_url": f"s3://{BUCKET}/{PREFIX}",
                "options": {
                    "endpoint_url": endpoint,
                    "region": "us-east-1",
                    "credentials_env": {"key": "BENCH_KEY", "secret": "BENCH_SECRET"},
                },
            }
        )
        results["labrig cold warm-up"] = timed(lambda: catalog.warm("bench"))
        mount = Path(catalog.mount("bench")["path"])

        plain = work / "plain"
        results["cp -r mount -> plain dir"] = timed(
            lambda: subprocess.run(["cp", "-r", str(mount), str(plain)], check=True)
        )
        # Warm reads: every byte once; both trees are in the page cache (dropping it needs
        # privileges these machines do not give). Best of five, alternating.
        warm_mount, warm_plain, warm_filecache = [], [], []
        for _ in range(5):
            warm_plain.append(timed(lambda: read_tree(plain)))
            warm_mount.append(timed(lambda: read_tree(mount)))
            warm_filecache.append(timed(through_cache("filecache")))
        results["warm read: plain local dir"] = min(warm_plain)
        results["warm read: labrig mount"] = min(warm_mount)
        results["warm read: filecache::s3"] = min(warm_filecache)
        assert read_tree(mount) == total
        catalog.unmount("bench")
        services.close()

        mib = total / 2**20
        print(
            f"dataset: {args.small} x 256 KiB + {args.big} x 64 MiB = {mib:.0f} MiB, "
            f"moto in its own process on loopback, {os.cpu_count()} CPUs"
        )
        for name, seconds in results.items():
            print(f"  {name:<30} {seconds:8.2f} s  {mib / seconds:8.1f} MiB/s")
        cold = results["labrig cold warm-up"]
        ratios = {
            "cold: labrig vs filecache::s3 (>= 2x wanted)": results["filecache::s3 cold"] / cold,
            "cold: labrig vs s3fs sequential (>= 1.5x wanted)": results["s3fs sequential"] / cold,
            "cold: labrig vs s3fs concurrent cat": results["s3fs concurrent cat"] / cold,
            "cold: labrig vs simplecache::s3": results["simplecache::s3 cold"] / cold,
            "warm: labrig mount vs plain dir (>= 0.9x wanted)": results[
                "warm read: plain local dir"
            ]
            / results["warm read: labrig mount"],
            "warm: filecache vs plain dir": results["warm read: plain local dir"]
            / results["warm read: filecache::s3"],
        }
        for name, ratio in ratios.items():
            print(f"  {name:<50} {ratio:6.2f}x")
        print(json.dumps({"results_s": results, "ratios": ratios}))
    finally:
        proc.terminate()
        proc.wait()
        # Detaches a read-only bind mount left by a failed run, then removes the rest.
        from labrig.dataset_mounts.mount_dirs import remove_tree

        remove_tree(work)


if __name__ == "__main__":
    main()
