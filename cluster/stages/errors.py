"""Turning a row's failure into data: the stage, the exception type and its message."""

from __future__ import annotations

import logging

from cluster import metrics

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
