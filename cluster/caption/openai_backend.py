"""OpenAI-compatible chat-completions backend (a vLLM or SGLang server, or a hosted API).

Frames go as JPEG data URLs in one user message, in time order, followed by the
instruction: the form every OpenAI-compatible multi-modal server accepts. Requests run on a
bounded thread pool; each has a timeout and is retried with exponential backoff on
timeouts, connection errors, 429 and 5xx. Anything else is that request's error.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import requests
from PIL import Image

from cluster.caption.requests import CaptionRequest, Generation
from cluster.caption.settings import CaptionConfig

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 60.0


class OpenAICaptioner:
    def __init__(self, cfg: CaptionConfig):
        self.cfg = cfg
        self.model_name = str(cfg.model)
        self.url = cfg.openai.base_url.rstrip("/") + "/chat/completions"
        key = os.environ.get(cfg.openai.api_key_env) if cfg.openai.api_key_env else None
        self.session = requests.Session()
        self.session.headers["Content-Type"] = "application/json"
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"
        self.pool = ThreadPoolExecutor(max_workers=cfg.openai.concurrency, thread_name_prefix="caption-http")

    def generate(self, requests_: list[CaptionRequest]) -> list[Generation]:
        return list(self.pool.map(self._complete, requests_))

    def _complete(self, request: CaptionRequest) -> Generation:
        o, payload = self.cfg.openai, self._payload(request)
        problem, retry_after = "no attempt made", None
        for attempt in range(o.retries + 1):
            if attempt:
                time.sleep(self._delay(attempt, retry_after))
                retry_after = None
            try:
                response = self.session.post(self.url, json=payload, timeout=(min(10.0, o.timeout_s), o.timeout_s))
            except requests.Timeout:
                problem = f"no answer within {o.timeout_s:g}s"
                continue
            except requests.ConnectionError as exc:
                problem = f"connection failed: {exc}"
                continue
            if response.status_code in RETRYABLE_STATUS:
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                retry_after = _seconds(response.headers.get("Retry-After"))
                continue
            if response.status_code != 200:
                return _failed(f"{self.url} refused the request: HTTP {response.status_code}: {response.text[:300]}")
            return _parse(response)
        return _failed(f"{self.url}: gave up after {o.retries + 1} attempts; last: {problem}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff, or longer when the server said how long to wait."""
        delay = self.cfg.openai.backoff_s * 2 ** (attempt - 1)
        return max(delay, min(retry_after, MAX_RETRY_AFTER_S)) if retry_after else delay

    def _payload(self, request: CaptionRequest) -> dict:
        g = self.cfg.generation
        images = [{"type": "image_url", "image_url": {"url": _data_url(f)}} for f in request.frames]
        return {
            "model": self.model_name,
            "messages": [{"role": "user", "content": [*images, {"type": "text", "text": request.prompt}]}],
            "max_tokens": request.max_new_tokens,
            "temperature": g.temperature,
            "top_p": g.top_p,
            "seed": g.seed,
        }


def _data_url(frame: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _seconds(header: str | None) -> float | None:
    try:
        return float(header) if header else None
    except ValueError:  # an HTTP date: fall back to backoff
        return None


def _parse(response: requests.Response) -> Generation:
    try:
        choice = response.json()["choices"][0]
        text = choice["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return _failed(f"malformed chat-completions response ({exc!r}): {response.text[:300]}")
    return Generation(text=text.strip(), finish_reason="length" if choice.get("finish_reason") == "length" else "stop")


def _failed(message: str) -> Generation:
    log.warning("caption request failed: %s", message)
    return Generation(text="", finish_reason="error", error=message)
