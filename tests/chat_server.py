"""A chat-completions server on 127.0.0.1 for tests of the openai captioner.

It speaks the OpenAI protocol over a real socket; `behave(payload, attempt)` decides each
reply (status, body, delay), so tests can script errors, slow answers and bad output.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    content: str | None = None
    status: int = 200
    delay_s: float = 0.0
    headers: dict = field(default_factory=dict)
    raw: str | None = None  # a body sent as is (malformed responses)
    finish_reason: str = "stop"


def payload_key(payload: dict) -> str:
    """Identity of a request: the same frames and prompt give the same key on every retry."""
    return hashlib.sha256(json.dumps(payload["messages"], sort_keys=True).encode()).hexdigest()


def first_image_key(payload: dict) -> str:
    """Identity of the segment a request is about (its first frame)."""
    return hashlib.sha256(payload["messages"][0]["content"][0]["image_url"]["url"].encode()).hexdigest()


def prompt_of(payload: dict) -> str:
    return payload["messages"][0]["content"][-1]["text"]


class ChatServer:
    def __init__(self, behave):
        self.behave = behave
        self.attempts: dict[str, int] = {}
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                if self.path != "/v1/chat/completions":
                    self._send(404, json.dumps({"error": {"message": "not found"}}))
                    return
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = payload_key(payload)
                with server._lock:
                    server.attempts[key] = attempt = server.attempts.get(key, 0) + 1
                    server.requests.append(payload)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    reply = server.behave(payload, attempt)
                    time.sleep(reply.delay_s)
                    self._send(
                        reply.status, reply.raw if reply.raw is not None else _body(payload, reply), reply.headers
                    )
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (its timeout)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _send(self, status: int, body: str, headers: dict | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _body(payload: dict, reply: Reply) -> str:
    if reply.status != 200:
        return json.dumps({"error": {"message": f"scripted {reply.status}", "type": "server_error"}})
    return json.dumps(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": payload["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content},
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }
    )
