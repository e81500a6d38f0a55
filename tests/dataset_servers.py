"""Real data sources for the dataset tests: moto's S3 server and an HTTP file server.

Both run on 127.0.0.1 with port 0 and count the requests they answer, so tests can check that
every byte was fetched from the source exactly once. The HTTP server serves ETags (the MD5 of
the content), HEAD, ``Range`` and ``If-Match``, a directory index fsspec can follow, and
injected faults: failing or stalling part-way through an object.
"""

from __future__ import annotations

import collections
import hashlib
import html
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

# -- HTTP -------------------------------------------------------------------------------------


class FileServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops handshakes when eight processes open sixty
    # connections at once; the client's retry after its read timeout is then a second GET
    # of an object the cache fetched once. Real servers listen with a deep backlog.
    request_queue_size = 1024

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.gets: collections.Counter[str] = collections.Counter()
        self.heads: collections.Counter[str] = collections.Counter()
        self.bytes_sent: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        # path -> {"fail_after": n, "times": k} or {"stall_after": n, "seconds": s}
        self.faults: dict[str, dict[str, Any]] = {}
        self.status_override: int | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def reset_counts(self) -> None:
        with self.lock:
            self.gets.clear()
            self.heads.clear()
            self.bytes_sent.clear()


class _Handler(BaseHTTPRequestHandler):
    server: FileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _target(self) -> Path | None:
        rel = unquote(urlsplit(self.path).path).lstrip("/")
        target = (self.server.root / rel).resolve()
        if not target.is_relative_to(self.server.root.resolve()) or not target.exists():
            return None
        return target

    def _refuse(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        if self.server.status_override:
            return self._refuse(self.server.status_override)
        target = self._target()
        if target is None:
            return self._refuse(404)
        if target.is_dir():
            return self._index(target, head)
        data = target.read_bytes()
        etag = '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'
        if_match = self.headers.get("If-Match")
        if if_match and if_match != etag:
            return self._refuse(412)
        start, end = 0, len(data)
        status = 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            start = int(first)
            end = min(int(last) + 1, len(data)) if last else len(data)
            status = 206
        body = data[start:end]
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        self.end_headers()
        rel = "/" + target.relative_to(self.server.root).as_posix()
        if head:
            with self.server.lock:
                self.server.heads[rel] += 1
            return None
        with self.server.lock:
            self.server.gets[rel] += 1
            fault = self.server.faults.get(rel)
            if fault and fault.get("times", 1) > 0:
                fault["times"] = fault.get("times", 1) - 1
            else:
                fault = None
        if fault is not None:
            cut = min(fault.get("fail_after", fault.get("stall_after", 0)), len(body))
            self.wfile.write(body[:cut])
            self.wfile.flush()
            if "stall_after" in fault:
                time.sleep(fault["seconds"])
            self.close_connection = True
            return None
        self.wfile.write(body)
        with self.server.lock:
            self.server.bytes_sent[rel] += len(body)
        return None

    def _index(self, target: Path, head: bool) -> None:
        rel = target.relative_to(self.server.root).as_posix()
        base = "/" if rel == "." else f"/{rel}/"
        links = []
        for child in sorted(target.iterdir()):
            name = child.name + ("/" if child.is_dir() else "")
            links.append(f'<a href="{html.escape(base + name)}">{html.escape(name)}</a>')
        body = ("<html><body>" + "\n".join(links) + "</body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


@pytest.fixture
def http_root(tmp_path: Path) -> Path:
    root = tmp_path / "http-root"
    root.mkdir()
    return root


@pytest.fixture
def file_server(http_root: Path) -> Iterator[FileServer]:
    server = FileServer(http_root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# -- S3 (moto) --------------------------------------------------------------------------------


def _access_denied(start_response: Any, message: bytes) -> list[bytes]:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        b"<Message>" + message + b"</Message></Error>"
    )
    start_response("403 Forbidden", [("Content-Type", "application/xml")])
    return [body]


_S3_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


def _multipart_step(method: str, query: str) -> str | None:
    """Which step of a multipart upload a request is (S3 and OSS name them alike)."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    if method == "POST" and "uploads" in params:
        return "initiate"
    if method == "PUT" and "partNumber" in params and "uploadId" in params:
        return "part"
    if method == "POST" and "uploadId" in params:
        return "complete"
    if method == "DELETE" and "uploadId" in params:
        return "abort"
    return None


def _access_key_id(authorization: str) -> str:
    """The access key id a request was signed with (S3 SigV4 or OSS), or ""."""
    if authorization.startswith("OSS "):
        return authorization[4:].split(":", 1)[0]
    if "Credential=" in authorization:
        return authorization.split("Credential=", 1)[1].split("/", 1)[0]
    return ""


class CountingApp:
    """WSGI middleware counting object GETs (by key), multipart upload steps (by step and
    key) and every request; it can refuse every request (``deny``) or those signed with
    given access key ids (``refused_keys``), and slow part uploads down (``part_delay``
    seconds each) so a test can act while an upload is in flight."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.gets: collections.Counter[str] = collections.Counter()
        self.multipart: collections.Counter[tuple[str, str]] = collections.Counter()
        self.requests = 0
        self.lock = threading.Lock()
        self.deny = False
        self.refused_keys: set[str] = set()
        self.part_delay = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ.get("REQUEST_METHOD", "")
        step = _multipart_step(method, environ.get("QUERY_STRING", ""))
        with self.lock:
            self.requests += 1
            path = environ.get("PATH_INFO", "")
            if method == "GET" and not environ.get("QUERY_STRING"):
                self.gets[path] += 1
            if step is not None:
                self.multipart[step, path] += 1
        if step == "part" and self.part_delay:
            time.sleep(self.part_delay)
        if _access_key_id(environ.get("HTTP_AUTHORIZATION", "")) in self.refused_keys:
            return _access_denied(start_response, b"The Access Key Id you provided is refused.")
        if environ.get("HTTP_AUTHORIZATION", "").startswith("OSS "):
            return self._oss_dialect(environ, start_response)
        if self.deny:
            return _access_denied(start_response, b"Access Denied")
        return self.app(environ, start_response)

    def _oss_dialect(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Answer ossfs/oss2 the way OSS would where the two APIs differ in form: no S3 XML
        namespace, and a <Type> per listed object. Authentication is not checked (moto
        does not check signatures either)."""
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"], captured["headers"] = status, headers

        if self.deny:
            return _access_denied(
                start_response, b"The OSS Access Key Id you provided does not exist."
            )
        # moto picks the service from the request's signature; an OSS one names none, and
        # moto then guesses (sometimes no service at all: a 500). Say it is S3.
        environ = {**environ, "HTTP_AUTHORIZATION": _S3_AUTHORIZATION}
        body = b"".join(self.app(environ, capture))
        content_type = dict((k.lower(), v) for k, v in captured["headers"]).get("content-type", "")
        if "xml" in content_type:  # listings and errors; object bodies pass through untouched
            body = body.replace(b' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"', b"")
            body = body.replace(b"<Contents>", b"<Contents><Type>Normal</Type>")
            if b"<ListMultipartUploadsResult>" in body and b"<NextKeyMarker" not in body:
                # OSS always names the next markers (empty on the last page); moto leaves
                # them out, and oss2 insists on them.
                body = body.replace(
                    b"<IsTruncated>",
                    b"<NextKeyMarker></NextKeyMarker><NextUploadIdMarker></NextUploadIdMarker>"
                    b"<IsTruncated>",
                )
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]


class S3Server:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        wsgi = self.server._server
        assert wsgi is not None
        self.counter = CountingApp(wsgi.app)
        wsgi.app = self.counter
        import boto3

        self.client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def put_tree(self, bucket: str, files: dict[str, bytes]) -> None:
        existing = {b["Name"] for b in self.client.list_buckets()["Buckets"]}
        if bucket not in existing:
            self.client.create_bucket(Bucket=bucket)
        for key, data in files.items():
            self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def s3_creds(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Credentials in the environment; datasets reference these variable names."""
    monkeypatch.setenv("TEST_S3_KEY", "testing-key-id")
    monkeypatch.setenv("TEST_S3_SECRET", "very-secret-value-123")
    return {"key": "TEST_S3_KEY", "secret": "TEST_S3_SECRET"}


def make_files(count: int, size: int, seed: int = 0, prefix: str = "") -> dict[str, bytes]:
    out = {}
    for i in range(count):
        block = hashlib.sha256(f"{seed}-{i}".encode()).digest()
        out[f"{prefix}part-{i:04d}.bin"] = (block * (size // len(block) + 1))[:size]
    return out


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def tree_bytes(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out
