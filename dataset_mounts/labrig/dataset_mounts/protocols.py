"""Per-protocol helpers of a source: the fsspec filesystem for each scheme (file, s3, oss, gs,
http), how each lists into manifest entries, and the conditional S3 read."""

from __future__ import annotations

import errno
import importlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from labrig.errors import InvalidInput
from labrig.paths import confine_absolute

from .manifest import Entry
from .source_options import Secrets


def read_timeout() -> float:
    """Seconds a read may stall before it is retried ($LABRIG_DATASET_READ_TIMEOUT, 60)."""
    return float(os.environ.get("LABRIG_DATASET_READ_TIMEOUT", "60"))


def protocol_of(url: str) -> str:
    return urlsplit(url).scheme.lower()


def root_path(url: str) -> str:
    """The source URL as the filesystem addresses it (no scheme; bucket/prefix or /path)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return parts.path
    if scheme in ("http", "https"):
        return url
    return (parts.netloc + parts.path).rstrip("/")


def make_filesystem(dataset: str, protocol: str, opts: dict[str, Any], secrets: Secrets) -> Any:
    """The fsspec filesystem for ``protocol``, built with the resolved credentials."""
    sec = secrets.values
    if protocol == "file":
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem()
    if protocol == "s3":
        return _s3_filesystem(_import_backend(dataset, protocol, "s3fs"), opts, sec)
    if protocol == "oss":
        return _oss_filesystem(dataset, _import_backend(dataset, protocol, "ossfs"), opts, sec)
    if protocol == "gs":
        gcsfs = _import_backend(dataset, protocol, "gcsfs")
        token: Any = "anon" if opts.get("anonymous") else opts.get("credentials_file")
        return gcsfs.GCSFileSystem(
            token=token, endpoint_url=opts.get("endpoint_url"), skip_instance_cache=True
        )
    return _http_filesystem(sec)


def _import_backend(dataset: str, protocol: str, module: str) -> Any:
    """The fsspec backend package, imported when first needed (each is an optional install)."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise InvalidInput(
            f"dataset {dataset!r}: {protocol}:// sources need {module} (pip install {module})",
            field="source_url",
        ) from err


def _s3_filesystem(s3fs: Any, opts: dict[str, Any], sec: dict[str, str]) -> Any:
    client_kwargs: dict[str, Any] = {}
    if opts.get("region"):
        client_kwargs["region_name"] = opts["region"]
    return s3fs.S3FileSystem(
        anon=bool(opts.get("anonymous")),
        key=sec.get("key"),
        secret=sec.get("secret"),
        token=sec.get("token"),
        endpoint_url=opts.get("endpoint_url"),
        client_kwargs=client_kwargs,
        config_kwargs={
            "connect_timeout": 5,
            "read_timeout": read_timeout(),
            "retries": {"max_attempts": 2},
        },
        skip_instance_cache=True,
    )


def _oss_filesystem(dataset: str, ossfs: Any, opts: dict[str, Any], sec: dict[str, str]) -> Any:
    endpoint = opts.get("endpoint_url") or (
        f"https://oss-{opts['region']}.aliyuncs.com" if opts.get("region") else None
    )
    if not endpoint:
        raise InvalidInput(
            f"dataset {dataset!r}: oss:// sources need options.endpoint_url or options.region",
            field="options.endpoint_url",
        )
    kwargs: dict[str, Any] = {"endpoint": endpoint, "skip_instance_cache": True}
    if not opts.get("anonymous"):
        kwargs.update(key=sec.get("key"), secret=sec.get("secret"), token=sec.get("token"))
    return ossfs.OSSFileSystem(**kwargs)


def _http_filesystem(sec: dict[str, str]) -> Any:
    import aiohttp
    from fsspec.implementations.http import HTTPFileSystem

    client_kwargs: dict[str, Any] = {
        "timeout": aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=read_timeout())
    }
    if sec.get("key") and sec.get("secret"):
        client_kwargs["auth"] = aiohttp.BasicAuth(sec["key"], sec["secret"])
    return HTTPFileSystem(client_kwargs=client_kwargs, skip_instance_cache=True, simple_links=True)


def list_local(root: Path) -> list[Entry]:
    """Every file under ``root``; a file that is a symlink leading out of ``root`` is refused
    (the dataset is what its directory holds, not what the server can read elsewhere)."""
    if not root.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file or directory", str(root))
    if root.is_file():
        return [local_entry(root, root.name)]
    out = []
    for dirpath, _dirs, files in os.walk(root):
        for fname in files:
            p = Path(dirpath) / fname
            confine_absolute(p, [root], field="source_url")
            out.append(local_entry(p, p.relative_to(root).as_posix()))
    return out


def list_objects(fs: Any, protocol: str, root: str) -> list[Entry]:
    """Every object under ``root`` (bucket/prefix) of an object store."""
    found = fs.find(root, detail=True)
    if not found:
        # ``find`` on a missing bucket may answer empty; ask for the bucket itself.
        # ``find`` may hide why it found nothing (ossfs answers [] when refused):
        # listing the bucket itself raises the real error (missing, forbidden).
        bucket = root.split("/", 1)[0]
        fs.invalidate_cache()
        if protocol == "oss":
            fs._call_oss("list_objects", bucket=bucket, max_keys=1)
        else:
            fs.ls(bucket, detail=False)
        if "/" in root:
            raise FileNotFoundError(errno.ENOENT, f"prefix {root} does not exist")
    out = []
    prefix = root.rstrip("/") + "/"
    for path, info in found.items():
        if info.get("type") == "directory":
            continue
        rel = path[len(prefix) :] if path.startswith(prefix) else path.rsplit("/", 1)[-1]
        out.append(object_entry(rel, info))
    return out


def list_http(fs: Any, root: str) -> list[Entry]:
    """One file (a URL not ending in ``/``) or every file a directory index links to."""
    if not root.endswith("/"):
        info = fs.info(root)
        return [http_entry(root.rsplit("/", 1)[-1], info)]
    urls = [u for u in fs.find(root) if not u.endswith("/")]
    if not urls and not fs.exists(root):
        raise FileNotFoundError(errno.ENOENT, "the server answers 404", root)
    with ThreadPoolExecutor(16) as pool:
        infos = list(pool.map(fs.info, urls))
    return [http_entry(url[len(root) :], info) for url, info in zip(urls, infos, strict=True)]


def read_s3_range(fs: Any, path: str, entry: Entry, start: int, end: int) -> bytes:
    """Bytes [start, end) of an S3 object, only if its ETag (and version) still match."""
    from fsspec.asyn import sync

    bucket, key, _ = fs.split_path(path)
    kwargs: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Range": f"bytes={start}-{end - 1}",
        "IfMatch": quoted(entry.etag or ""),
    }
    if entry.version_id:
        kwargs["VersionId"] = entry.version_id

    async def get() -> bytes:
        resp = await fs._call_s3("get_object", **kwargs)
        body = resp["Body"]
        try:
            data: bytes = await body.read()
        finally:
            body.close()
        return data

    return sync(fs.loop, get)


def quoted(etag: str) -> str:
    return etag if etag.startswith('"') or etag.startswith("W/") else f'"{etag}"'


def object_entry(rel: str, info: dict[str, Any]) -> Entry:
    """An object store listing entry; ossfs gives no ETag, so its LastModified stands in."""
    etag = info.get("ETag") or info.get("etag") or info.get("md5Hash")
    if not etag and info.get("LastModified") is not None:
        etag = f"lm-{info['LastModified']}"
    return Entry(
        rel,
        int(info.get("size") or 0),
        str(etag).strip('"') if etag else None,
        info.get("VersionId") or info.get("generation"),
    )


def local_entry(path: Path, rel: str) -> Entry:
    st = path.stat()
    return Entry(rel, st.st_size, f"{st.st_mtime_ns:x}-{st.st_size:x}")


def http_entry(rel: str, info: dict[str, Any]) -> Entry:
    etag = info.get("ETag") or info.get("etag")
    if etag:
        etag = str(etag)
        if etag.startswith('"') and etag.endswith('"'):
            etag = etag[1:-1]
    size = info.get("size")
    if size is None:
        raise InvalidInput(f"the HTTP server gives no size for {rel}; labrig needs Content-Length")
    return Entry(rel, int(size), etag or None)
