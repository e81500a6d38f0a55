"""HTTP/1.1 on loopback: the server, and the request handler with keep-alive and chunked
streams."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .. import kube
from .routing import RequestRecord

if TYPE_CHECKING:
    from .api_emulator import ApiEmulator


class Server(ThreadingHTTPServer):
    """The HTTP server; it keeps its open connections so that ``stop`` can close them
    (watch and log streams would hold their threads otherwise)."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(addr, handler)
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)


class Handler(BaseHTTPRequestHandler):
    """One connection: reads requests for ``emulator.handle`` and writes its answers
    (whole bodies, or chunked streams)."""

    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-emulator"
    sys_version = ""
    emulator: ApiEmulator
    record: RequestRecord | None = None
    sent_status: int = 0
    body: bytes = b""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # the client's delayed ACK add 40 ms to every response.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _go(self) -> None:
        self.sent_status = 0
        self.record = None
        self.emulator.handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _go

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def _begin(self, code: int) -> None:
        self.sent_status = code
        if self.record is not None and not self.record.status:
            self.record.status = code
            self.emulator.record(self.record)
        self.send_response(code)

    def send_bytes(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        self._begin(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, code: int, obj: Any) -> None:
        self.send_bytes(code, kube.dumps(obj))

    def send_text(self, code: int, text: str, raw: bytes | None = None) -> None:
        self.send_bytes(code, raw if raw is not None else text.encode(), "text/plain")

    def start_chunked(self, code: int, content_type: str) -> None:
        self._begin(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def client_gone(self) -> bool:
        """True when the client closed the connection (an idle stream notices this way)."""
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            return sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True
