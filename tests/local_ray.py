"""The `ray` command of this interpreter's environment, and free ports on 127.0.0.1, for
tests that start Ray nodes of their own."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
