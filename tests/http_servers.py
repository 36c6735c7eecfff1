"""HTTP servers on 127.0.0.1 for the remote-input tests: one serving a folder (percent-decoding
and normalising paths, as a naive server does, so `/public/%2e%2e/x.mp4` is `/x.mp4`), one
that accepts connections and never answers, and one that sends a byte at a time. Each
records the paths it was asked for and stops at the end of its `with` block."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Served:
    url: str
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path as sent)

    def gets(self, path: str) -> int:
        return sum(1 for method, sent in self.requests if method == "GET" and sent == path)


@contextmanager
def folder_server(root: Path) -> Iterator[Served]:
    served = Served("")

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            served.requests.append((self.command, self.path))

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_server() -> Iterator[Served]:
    """Accepts every connection and never sends a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    served = Served(f"http://127.0.0.1:{listener.getsockname()[1]}")
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


@contextmanager
def trickle_server(size: int, every_s: float) -> Iterator[Served]:
    """Answers every request with a `size`-byte body, sent one byte each `every_s` seconds."""
    stop = threading.Event()
    served = Served("")

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            served.requests.append((self.command, self.path))

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()

        def do_GET(self) -> None:
            self.do_HEAD()
            for _ in range(size):
                if stop.wait(every_s):
                    return
                self.wfile.write(b"\0")
                self.wfile.flush()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
