"""Turning a row's failure into data: the stage, the exception type and its message."""

from __future__ import annotations

import logging

import av

from cluster import metrics
from cluster.storage import InputChanged, InputUnavailable
from cluster.tokens.geometry import GeometryError
from cluster.tokens.sampling import SamplingError
from cluster.video.decode import FramesMissing
from cluster.video.guard import DecoderCrashed, DecoderTimeout
from cluster.video.probe import ProbeError

# The failures that belong to one input: it cannot be fetched, read, decoded or sampled, it
# is too large to decode, it changed under the run, or the decoder crashed or hung on it.
# They become that input's error rows. Anything else is a bug (a renamed column, a wrong
# type) and fails the task, and so the job, with its traceback: a bug must not pass as a
# run in which every row errored.
INPUT_ERRORS: tuple[type[Exception], ...] = (
    ProbeError,
    av.FFmpegError,
    FramesMissing,
    InputUnavailable,
    InputChanged,
    DecoderCrashed,
    DecoderTimeout,
    SamplingError,
    GeometryError,
    MemoryError,
)

log = logging.getLogger(__name__)


def error_fields(stage: str, uri: str, exc: BaseException) -> dict:
    log.warning("%s failed for %s: %s: %s", stage, uri, type(exc).__name__, exc)
    metrics.count("vidcurate_errors", stage=stage, error_type=type(exc).__name__)
    return {
        "status": "error",
        "stage": stage,
        "error_type": type(exc).__name__,
        "error_message": str(exc)[:2000] or repr(exc),
    }
