"""Open a page in headless Chromium (Debian's `chromium`; `.ci/run` installs it) and return
its DOM after load, with each <img> marked by the page as loaded or missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

IMG = re.compile(r"<img\b[^>]*>")


def rendered_dom(page: Path) -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("VIDCURATE_CI"):
            pytest.fail("headless Chromium is not installed, and .ci/run installs it")
        pytest.skip("headless Chromium is not installed (apt-get install chromium; .ci/run does)")
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def image_states(dom: str) -> dict[str, str]:
    """src -> the state the page's onload/onerror handlers recorded ('' if neither ran)."""
    states = {}
    for tag in IMG.findall(dom):
        src = re.search(r'src="([^"]*)"', tag).group(1)
        state = re.search(r'data-state="([^"]*)"', tag)
        states[src] = state.group(1) if state else ""
    return states
