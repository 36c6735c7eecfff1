"""Turning a row's failure into data: the stage, the exception type and its message."""

from __future__ import annotations

import logging

import av

from cluster import metrics
from cluster.admission import ForbiddenInput
from cluster.sources import named
from cluster.storage import InputChanged, InputUnavailable
from cluster.tokens.geometry import GeometryError
from cluster.tokens.sampling import SamplingError
from cluster.video.decode import FramesMissing
from cluster.video.guard import DecoderCrashed, DecoderTimeout
from cluster.video.probe import ProbeError
from cluster.video.shots import WorkLimitExceeded
from schemas.tables import BUG_REASON

# The failures that belong to one input: it cannot be fetched, read, decoded or sampled, it
# is too large to decode or would cause more work than the limits allow, it changed under
# the run or was swapped for a file outside the allowed roots, or the decoder crashed or
# hung on it.
# They become that input's error rows. Anything else is a bug (a renamed column, a wrong
# type) and fails the task, and so the job, with its traceback: a bug must not pass as a
# run in which every row errored.
INPUT_ERRORS: tuple[type[Exception], ...] = (
    ProbeError,
    av.FFmpegError,
    FramesMissing,
    InputUnavailable,
    InputChanged,
    ForbiddenInput,
    WorkLimitExceeded,
    DecoderCrashed,
    DecoderTimeout,
    SamplingError,
    GeometryError,
    MemoryError,
)

log = logging.getLogger(__name__)


def caught(tolerate_bugs: bool) -> tuple[type[Exception], ...]:
    """What a row stage turns into an error row: the input's own failures, and, when
    errors.max_fraction lets bugs through, any exception (see failed_row)."""
    return (Exception,) if tolerate_bugs else INPUT_ERRORS


def failed_row(stage: str, uri: str, exc: Exception) -> dict:
    """The error fields of a row whose stage raised `exc`; an exception that is not the
    input's own is a bug of ours, logged with its traceback and marked reason BUG_REASON so
    the driver counts it against errors.max_fraction."""
    if isinstance(exc, INPUT_ERRORS):
        return error_fields(stage, uri, exc)
    log.error("%s hit a bug on %s (errors.max_fraction lets it through)", stage, uri, exc_info=exc)
    return {**error_fields(stage, uri, exc), "reason": BUG_REASON}


def error_fields(stage: str, uri: str, exc: BaseException) -> dict:
    message = named(str(exc), uri)[:2000] or repr(exc)
    log.warning("%s failed for %s: %s: %s", stage, uri, type(exc).__name__, message)
    metrics.count("vidcurate_errors", stage=stage, error_type=type(exc).__name__)
    return {"status": "error", "stage": stage, "error_type": type(exc).__name__, "error_message": message}
