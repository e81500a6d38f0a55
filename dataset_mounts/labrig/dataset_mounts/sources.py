"""Data sources: parse and check a dataset's source URL and options, list it, read it.

Every scheme goes through an fsspec filesystem (``file``, ``s3`` via s3fs, ``oss`` via ossfs,
``gs`` via gcsfs, ``http(s)``), built with credentials resolved from the environment or a
credentials file at the moment of use: the catalog stores only *where* credentials are, and
every message that could carry one goes through :func:`mask`.
"""

from __future__ import annotations

import configparser
import errno
import hashlib
import importlib
import json
import os
import re
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from labrig.errors import AccessDenied, Conflict, InvalidInput, LabrigError, NotFound

SCHEMES = ("file", "s3", "oss", "gs", "http", "https")
OPTION_KEYS = {"endpoint_url", "region", "anonymous", "credentials_env", "credentials_file"}
CREDENTIAL_ROLES = {"key", "secret", "token"}
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MD5_ETAG = re.compile(r"[0-9a-f]{32}")
_SECRET_IN_URL = re.compile(r"(://)[^/@\s]+@")


def read_timeout() -> float:
    """Seconds a read may stall before it is retried ($LABRIG_DATASET_READ_TIMEOUT, 60)."""
    return float(os.environ.get("LABRIG_DATASET_READ_TIMEOUT", "60"))


class SourceChanged(Conflict):
    """An object changed at the source after the manifest listed it."""

    reason = "source_changed"


@dataclass(frozen=True)
class Entry:
    """One file of a dataset as the source listed it."""

    path: str  # relative to the source root, '/'-separated
    size: int
    etag: str | None = None
    version_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "size": self.size}
        if self.etag:
            out["etag"] = self.etag
        if self.version_id:
            out["version_id"] = self.version_id
        return out

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Entry:
        return cls(value["path"], int(value["size"]), value.get("etag"), value.get("version_id"))

    @property
    def md5(self) -> str | None:
        """The content MD5 when the ETag is one (single-part S3/OSS uploads, our HTTP fixture)."""
        tag = (self.etag or "").strip('"').lower()
        return tag if MD5_ETAG.fullmatch(tag) else None


@dataclass
class Secrets:
    """Resolved credential values: used to build clients and to scrub messages."""

    values: dict[str, str] = field(default_factory=dict)

    def scrub(self, text: str) -> str:
        for value in self.values.values():
            if value and len(value) >= 3:
                text = text.replace(value, "****")
        return _SECRET_IN_URL.sub(r"\1****@", text)


def mask(text: str, secrets: Secrets | None = None) -> str:
    """``text`` with credential values and URL user-info replaced by ``****``."""
    return (secrets or Secrets()).scrub(text)


def check_source_url(name: str, url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(
            f"dataset {name!r}: source_url is required, e.g. s3://bucket/prefix/ or "
            "file:///data/mnist",
            field="source_url",
        )
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as err:
        raise InvalidInput(
            f"dataset {name!r}: source_url {mask(url)!r} is not a valid URL ({err})",
            field="source_url",
        ) from err
    scheme = parts.scheme.lower()
    if not scheme or "://" not in url:
        raise InvalidInput(
            f"dataset {name!r}: source_url {mask(url)!r} is not a URL; use one of "
            + ", ".join(f"{s}://" for s in SCHEMES),
            field="source_url",
        )
    if scheme not in SCHEMES:
        raise InvalidInput(
            f"dataset {name!r}: source_url scheme {scheme!r} is not supported; use one of "
            + ", ".join(f"{s}://" for s in SCHEMES),
            field="source_url",
        )
    if parts.username or parts.password:
        raise InvalidInput(
            f"dataset {name!r}: source_url {mask(url)!r} carries credentials; put them in "
            "environment variables and name those in options.credentials_env",
            field="source_url",
        )
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise InvalidInput(
                f"dataset {name!r}: source_url {url!r} must be an absolute file:///path",
                field="source_url",
            )
    elif not parts.netloc:
        what = "host" if scheme.startswith("http") else "bucket"
        raise InvalidInput(
            f"dataset {name!r}: source_url {url!r} names no {what}; use {scheme}://{what}/path",
            field="source_url",
        )
    return url


def check_options(name: str, options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise InvalidInput(f"dataset {name!r}: options must be an object", field="options")
    for key in options:
        if key not in OPTION_KEYS:
            hint = (
                "; never pass credentials themselves: name the environment variables that "
                "hold them in credentials_env, or a credentials file in credentials_file"
                if key.lower() in {"key", "secret", "token", "password", "access_key"}
                else ""
            )
            raise InvalidInput(
                f"dataset {name!r}: unknown option {key!r}; allowed: "
                f"{', '.join(sorted(OPTION_KEYS))}{hint}",
                field=f"options.{key}",
            )
    out: dict[str, Any] = {}
    endpoint = options.get("endpoint_url")
    if endpoint is not None:
        parts = urlsplit(str(endpoint))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(
                f"dataset {name!r}: options.endpoint_url {mask(str(endpoint))!r} must be an "
                "http(s)://host[:port] URL",
                field="options.endpoint_url",
            )
        if parts.username or parts.password:
            raise InvalidInput(
                f"dataset {name!r}: options.endpoint_url carries credentials; use credentials_env",
                field="options.endpoint_url",
            )
        out["endpoint_url"] = str(endpoint)
    if options.get("region") is not None:
        region = options["region"]
        if not isinstance(region, str) or not re.fullmatch(r"[a-z0-9-]{1,64}", region):
            raise InvalidInput(
                f"dataset {name!r}: options.region {region!r} is not a region name",
                field="options.region",
            )
        out["region"] = region
    if options.get("anonymous") is not None:
        if not isinstance(options["anonymous"], bool):
            raise InvalidInput(
                f"dataset {name!r}: options.anonymous must be true or false",
                field="options.anonymous",
            )
        out["anonymous"] = options["anonymous"]
    env = options.get("credentials_env")
    if env is not None:
        if not isinstance(env, dict) or not env:
            raise InvalidInput(
                f"dataset {name!r}: options.credentials_env must map key/secret/token to the "
                'NAMES of environment variables, e.g. {"key": "AWS_ACCESS_KEY_ID"}',
                field="options.credentials_env",
            )
        for role, var in env.items():
            if (
                role not in CREDENTIAL_ROLES
                or not isinstance(var, str)
                or not ENV_NAME.fullmatch(var)
            ):
                raise InvalidInput(
                    f"dataset {name!r}: options.credentials_env[{role!r}] must name an "
                    "environment variable (letters, digits, '_'); roles are key, secret, token",
                    field="options.credentials_env",
                )
        out["credentials_env"] = dict(env)
    cred_file = options.get("credentials_file")
    if cred_file is not None:
        if not isinstance(cred_file, str) or not os.path.isabs(os.path.expanduser(cred_file)):
            raise InvalidInput(
                f"dataset {name!r}: options.credentials_file must be an absolute path",
                field="options.credentials_file",
            )
        out["credentials_file"] = cred_file
    if out.get("anonymous") and ("credentials_env" in out or "credentials_file" in out):
        raise InvalidInput(
            f"dataset {name!r}: options.anonymous cannot be combined with credentials",
            field="options.anonymous",
        )
    return out


def public_options(options: dict[str, Any]) -> dict[str, Any]:
    """Options as the API shows them: where credentials come from, never what they are."""
    out = {k: v for k, v in options.items() if k not in ("credentials_env", "credentials_file")}
    if "credentials_env" in options:
        out["credentials"] = "environment"
    elif "credentials_file" in options:
        out["credentials"] = "file"
    return out


def check_include(name: str, include: Any) -> str | None:
    if include in (None, ""):
        return None
    if not isinstance(include, str) or len(include) > 1024:
        raise InvalidInput(
            f"dataset {name!r}: include must be a glob pattern such as '*.parquet'",
            field="include",
        )
    return include


def resolve_secrets(name: str, options: dict[str, Any]) -> Secrets:
    values: dict[str, str] = {}
    for role, var in (options.get("credentials_env") or {}).items():
        value = os.environ.get(var)
        if value is None:
            raise InvalidInput(
                f"dataset {name!r}: environment variable {var} (credentials {role}) is not set "
                "in the server's environment; set it and try again",
                field="options.credentials_env",
            )
        values[role] = value
    cred_file = options.get("credentials_file")
    if cred_file:
        path = Path(cred_file).expanduser()
        try:
            text = path.read_text()
        except OSError as err:
            raise InvalidInput(
                f"dataset {name!r}: cannot read credentials file {path}: {err.strerror}",
                field="options.credentials_file",
            ) from err
        try:
            loaded = json.loads(text)
        except ValueError:
            parser = configparser.ConfigParser()
            try:
                parser.read_string(text)
            except configparser.Error as err:
                raise InvalidInput(
                    f"dataset {name!r}: credentials file {path} is neither JSON nor INI",
                    field="options.credentials_file",
                ) from err
            section = parser[parser.sections()[0]] if parser.sections() else {}
            loaded = {
                "key": section.get("aws_access_key_id") or section.get("key"),
                "secret": section.get("aws_secret_access_key") or section.get("secret"),
                "token": section.get("aws_session_token") or section.get("token"),
            }
        for role in CREDENTIAL_ROLES:
            if isinstance(loaded, dict) and loaded.get(role):
                values[role] = str(loaded[role])
    return Secrets(values)


def _protocol(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _root_path(url: str) -> str:
    """The source URL as the filesystem addresses it (no scheme; bucket/prefix or /path)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return parts.path
    if scheme in ("http", "https"):
        return url
    return (parts.netloc + parts.path).rstrip("/")


class Source:
    """A dataset's source: listing into manifest entries and fetching bytes."""

    def __init__(self, name: str, url: str, options: dict[str, Any], include: str | None) -> None:
        self.name = name
        self.url = url
        self.options = options
        self.include = include
        self.protocol = _protocol(url)
        self.root = _root_path(url)
        self.secrets = resolve_secrets(name, options)
        self._fs: Any = None
        self._lock = threading.Lock()

    # -- errors -----------------------------------------------------------------------------
    def error(self, err: BaseException, what: str) -> LabrigError:
        """A domain error naming the dataset, what failed and what to do; credentials masked."""
        if isinstance(err, LabrigError):
            return err
        text = mask(f"{type(err).__name__}: {err}", self.secrets)
        where = mask(self.url, self.secrets)
        lowered = text.lower()
        status = _status_of(err)
        if (
            isinstance(err, PermissionError)
            or status == 403
            or "accessdenied" in lowered
            or ("forbidden" in lowered)
            or "invalidaccesskeyid" in lowered
            or "signaturedoesnotmatch" in lowered
        ):
            return AccessDenied(
                f"dataset {self.name!r}: {where} refused access while {what} ({text}). Check "
                "the credentials named in options (credentials_env / credentials_file) or set "
                "options.anonymous for a public source",
            )
        if isinstance(err, FileNotFoundError) or status == 404 or "nosuchbucket" in lowered:
            return NotFound(
                f"dataset {self.name!r}: {where} does not exist ({text}) while {what}. Check the "
                "bucket and prefix (or path) in source_url",
            )
        if status == 412 or "preconditionfailed" in lowered:
            return SourceChanged(
                f"dataset {self.name!r}: an object changed at {where} while {what}; its version "
                "was not recorded as complete. Run refresh to pick up the new content",
            )
        if _is_connection_error(err):
            endpoint = self.options.get("endpoint_url") or where
            return InvalidInput(
                f"dataset {self.name!r}: cannot reach {mask(str(endpoint), self.secrets)} while "
                f"{what} ({text}). Check options.endpoint_url and that the service is up",
                field="options.endpoint_url" if self.options.get("endpoint_url") else "source_url",
            )
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            from labrig.errors import StorageFull

            return StorageFull(
                f"dataset {self.name!r}: the disk under the dataset cache is full while {what}; "
                "nothing partial was kept. Free space or lower LocalDatasetCache.size_limit",
            )
        return InvalidInput(
            f"dataset {self.name!r}: {what} {where} failed: {text}", field="source_url"
        )

    # -- filesystem -------------------------------------------------------------------------
    @property
    def fs(self) -> Any:
        with self._lock:
            if self._fs is None:
                self._fs = self._make_fs()
            return self._fs

    def _module(self, name: str) -> Any:
        try:
            return importlib.import_module(name)
        except ImportError as err:
            raise InvalidInput(
                f"dataset {self.name!r}: {self.protocol}:// sources need {name} "
                f"(pip install {name})",
                field="source_url",
            ) from err

    def _make_fs(self) -> Any:
        opts = self.options
        sec = self.secrets.values
        if self.protocol == "file":
            from fsspec.implementations.local import LocalFileSystem

            return LocalFileSystem()
        if self.protocol == "s3":
            s3fs = self._module("s3fs")
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
        if self.protocol == "oss":
            ossfs = self._module("ossfs")
            endpoint = opts.get("endpoint_url") or (
                f"https://oss-{opts['region']}.aliyuncs.com" if opts.get("region") else None
            )
            if not endpoint:
                raise InvalidInput(
                    f"dataset {self.name!r}: oss:// sources need options.endpoint_url or "
                    "options.region",
                    field="options.endpoint_url",
                )
            kwargs: dict[str, Any] = {"endpoint": endpoint, "skip_instance_cache": True}
            if not opts.get("anonymous"):
                kwargs.update(key=sec.get("key"), secret=sec.get("secret"), token=sec.get("token"))
            return ossfs.OSSFileSystem(**kwargs)
        if self.protocol == "gs":
            gcsfs = self._module("gcsfs")
            token: Any = "anon" if opts.get("anonymous") else opts.get("credentials_file")
            return gcsfs.GCSFileSystem(
                token=token, endpoint_url=opts.get("endpoint_url"), skip_instance_cache=True
            )
        import aiohttp
        from fsspec.implementations.http import HTTPFileSystem

        client_kwargs = {
            "timeout": aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=read_timeout())
        }
        if sec.get("key") and sec.get("secret"):
            client_kwargs["auth"] = aiohttp.BasicAuth(sec["key"], sec["secret"])
        return HTTPFileSystem(
            client_kwargs=client_kwargs, skip_instance_cache=True, simple_links=True
        )

    def full_path(self, rel: str) -> str:
        if self.protocol in ("http", "https"):
            if not self.root.endswith("/"):
                return self.root  # a single-file source
            return self.root + rel
        return f"{self.root}/{rel}" if rel else self.root

    # -- listing ----------------------------------------------------------------------------
    def list(self) -> list[Entry]:
        """Every file under the source (after ``include``), with size and ETag/version."""
        try:
            entries = self._list()
        except Exception as err:
            raise self.error(err, "listing") from err
        if not entries:
            raise InvalidInput(
                f"dataset {self.name!r}: {mask(self.url, self.secrets)} holds no files; "
                "check the prefix in source_url",
                field="source_url",
            )
        if self.include:
            kept = [e for e in entries if fnmatchcase(e.path, self.include)]
            if not kept:
                sample = ", ".join(e.path for e in entries[:3])
                raise InvalidInput(
                    f"dataset {self.name!r}: include pattern {self.include!r} matches none of "
                    f"the {len(entries)} files (e.g. {sample}); fix the pattern or drop it",
                    field="include",
                )
            entries = kept
        return sorted(entries, key=lambda e: e.path)

    def _list(self) -> list[Entry]:
        fs = self.fs
        if self.protocol == "file":
            root = Path(self.root)
            if not root.exists():
                raise FileNotFoundError(errno.ENOENT, "no such file or directory", str(root))
            if root.is_file():
                return [_local_entry(root, root.name)]
            out = []
            for dirpath, _dirs, files in os.walk(root):
                for fname in files:
                    p = Path(dirpath) / fname
                    out.append(_local_entry(p, p.relative_to(root).as_posix()))
            return out
        if self.protocol in ("http", "https"):
            return self._list_http()
        root = self.root
        found = fs.find(root, detail=True)
        if not found:
            # ``find`` on a missing bucket may answer empty; ask for the bucket itself.
            # ``find`` may hide why it found nothing (ossfs answers [] when refused):
            # listing the bucket itself raises the real error (missing, forbidden).
            bucket = root.split("/", 1)[0]
            fs.invalidate_cache()
            if self.protocol == "oss":
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
            out.append(_object_entry(rel, info))
        return out

    def _list_http(self) -> list[Entry]:
        fs = self.fs
        if not self.root.endswith("/"):
            info = fs.info(self.root)
            return [_http_entry(self.root.rsplit("/", 1)[-1], info)]
        urls = [u for u in fs.find(self.root) if not u.endswith("/")]
        if not urls and not fs.exists(self.root):
            raise FileNotFoundError(errno.ENOENT, "the server answers 404", self.root)
        with ThreadPoolExecutor(16) as pool:
            infos = list(pool.map(fs.info, urls))
        return [
            _http_entry(url[len(self.root) :], info) for url, info in zip(urls, infos, strict=True)
        ]

    def current(self, entry: Entry) -> Entry:
        """The entry as the source describes it now (for change detection)."""
        path = self.full_path(entry.path)
        try:
            if self.protocol == "file":
                return _local_entry(Path(path), entry.path)
            info = self.fs.info(path)
        except Exception as err:
            raise self.error(err, f"checking {entry.path}") from err
        if self.protocol in ("http", "https"):
            return _http_entry(entry.path, info)
        return _object_entry(entry.path, info)

    @property
    def reads_are_conditional(self) -> bool:
        """Do reads fail (412) when the object changed since listing? Else check afterwards."""
        return self.protocol in ("s3", "http", "https")

    # -- reading ----------------------------------------------------------------------------
    def read(self, entry: Entry, start: int, end: int) -> bytes:
        """Bytes [start, end) of ``entry``; fails with SourceChanged if its ETag moved."""
        path = self.full_path(entry.path)
        try:
            if self.protocol == "file":
                with open(path, "rb") as f:
                    f.seek(start)
                    return f.read(end - start)
            if self.protocol == "s3" and entry.etag:
                return self._read_s3(path, entry, start, end)
            if self.protocol in ("http", "https") and entry.etag:
                return bytes(
                    self.fs.cat_file(
                        path, start=start, end=end, headers={"If-Match": _quoted(entry.etag)}
                    )
                )
            if self.protocol == "oss":
                # ossfs 2025.5 passes `end` to oss2 as an inclusive byte range: ask one less.
                return bytes(self.fs.cat_file(path, start=start, end=end - 1))
            return bytes(self.fs.cat_file(path, start=start, end=end))
        except Exception as err:
            raise self.error(err, f"reading {entry.path}") from err

    def _read_s3(self, path: str, entry: Entry, start: int, end: int) -> bytes:
        from fsspec.asyn import sync

        fs = self.fs
        bucket, key, _ = fs.split_path(path)
        kwargs: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "Range": f"bytes={start}-{end - 1}",
            "IfMatch": _quoted(entry.etag or ""),
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


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') or etag.startswith("W/") else f'"{etag}"'


def _object_entry(rel: str, info: dict[str, Any]) -> Entry:
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


def _local_entry(path: Path, rel: str) -> Entry:
    st = path.stat()
    return Entry(rel, st.st_size, f"{st.st_mtime_ns:x}-{st.st_size:x}")


def _http_entry(rel: str, info: dict[str, Any]) -> Entry:
    etag = info.get("ETag") or info.get("etag")
    if etag:
        etag = str(etag)
        if etag.startswith('"') and etag.endswith('"'):
            etag = etag[1:-1]
    size = info.get("size")
    if size is None:
        raise InvalidInput(f"the HTTP server gives no size for {rel}; labrig needs Content-Length")
    return Entry(rel, int(size), etag or None)


def _status_of(err: BaseException) -> int | None:
    for attr in ("status", "code", "status_code"):
        value = getattr(err, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(code, int):
            return code
    cause = err.__cause__ or err.__context__
    if cause is not None and cause is not err:
        return _status_of(cause)
    return None


def _is_connection_error(err: BaseException) -> bool:
    names = {c.__name__ for c in type(err).__mro__}
    if names & {
        "EndpointConnectionError",
        "ConnectionError",
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ConnectTimeoutError",
        "RequestError",
    }:
        return True
    if isinstance(err, ConnectionError | socket.gaierror | TimeoutError):
        return True
    lowered = str(err).lower()
    if "could not connect" in lowered or "connection refused" in lowered:
        return True
    cause = err.__cause__ or err.__context__
    return cause is not None and cause is not err and _is_connection_error(cause)


def manifest_version(url: str, include: str | None, entries: list[Entry]) -> str:
    """The dataset version: a hash of where it comes from and what every file is."""
    digest = hashlib.sha256()
    digest.update(json.dumps([url, include or ""]).encode())
    for e in entries:
        digest.update(json.dumps([e.path, e.size, e.etag, e.version_id]).encode())
    return digest.hexdigest()[:16]


def diff(old: list[Entry], new: list[Entry]) -> dict[str, list[str]]:
    """Paths added, removed and modified (size, ETag or version changed) from old to new."""
    before = {e.path: e for e in old}
    after = {e.path: e for e in new}
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "modified": sorted(
            p
            for p in set(before) & set(after)
            if (before[p].size, before[p].etag, before[p].version_id)
            != (after[p].size, after[p].etag, after[p].version_id)
        ),
    }


ProgressFn = Callable[[int], None]
