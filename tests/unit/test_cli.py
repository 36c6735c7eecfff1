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
    done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    assert "segment, select, materialize" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_names_a_module_of_the_package(command):
    import importlib.util

    assert importlib.util.find_spec(COMMANDS[command]) is not None


def _loaded_after(call: str) -> tuple[str, list[str]]:
    """What `call` printed, and which of torch, Ray, open_clip and transformers it loaded."""
    probe = (
        "import sys\n"
        f"{call}\n"
        "print(sorted(m for m in ('torch', 'ray', 'open_clip', 'transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    *printed, loaded = done.stdout.strip().splitlines()
    return "\n".join(printed), eval(loaded)


@pytest.mark.parametrize("command", ["report", "export"])
def test_report_and_export_start_without_torch_or_ray(command):
    printed, loaded = _loaded_after(
        f"from jobs.cli import main\ntry:\n    main([{command!r}, '--help'])\nexcept SystemExit:\n    pass"
    )
    assert "--root" in printed and loaded == []


def test_an_unchanged_select_answers_before_loading_torch_or_ray(tmp_path):
    import json

    from cluster.progress import record_pass, record_step
    from cluster.store import Store
    from jobs.config import parse_config
    from jobs.select import selection_digest

    raw = {"input": {"manifest": "unused"}, "output": {"root": str(tmp_path / "run")}}
    store = Store(str(tmp_path / "run"))
    store.write_json("_progress/segment/c00000.json", {"chunk": 0, "digest": "d", "ids": [], "files": []})
    record_pass(store, "segment", {"chunks": 1}, rows=0)
    record_step(store, "select", selection_digest(parse_config(raw), store), "selection", [])
    (tmp_path / "c.json").write_text(json.dumps(raw))
    call = f"from jobs.select import main\nmain(['--config', {str(tmp_path / 'c.json')!r}])"
    printed, loaded = _loaded_after(call)
    assert '"select": "unchanged"' in printed and loaded == []
    changed = (
        f"from jobs.select import main\nmain(['--config', {str(tmp_path / 'c.json')!r}, '--set', 'dedup.eps=0.1'])"
    )
    assert '"select": "unchanged"' not in _loaded_after(changed)[0]
