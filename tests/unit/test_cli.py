"""The `vidcurate` command answers --help without loading the pipeline."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jobs.cli import COMMANDS


def test_help_loads_neither_torch_nor_ray():
    probe = (
        "import sys\n"
        "from jobs.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('torch', 'ray', 'open_clip', 'transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60)
    assert "segment, select, materialize" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_names_a_module_of_the_package(command):
    import importlib.util

    assert importlib.util.find_spec(COMMANDS[command]) is not None
