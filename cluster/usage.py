"""Errors the user fixes: every command exits 2 with the message of a UsageError."""

from __future__ import annotations


class UsageError(ValueError):
    """The config, the manifest, a model, the output root or the order of the passes needs
    the change the message names; the command stopped before doing (more) work."""
