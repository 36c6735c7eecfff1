"""The whole job on real videos and bad inputs, through Ray: every input accounted for,
samples valid for the trainer, counts equal to what the processor produces."""

import json

from jobs.materialize import main as materialize_main
from jobs.report import main as report_main

# Random-weight CLIP (no network in tests): its scores mean nothing, so no thresholds on
# them, and dedup only of near-identical segments.


def test_a_pass_started_before_the_one_it_reads_is_refused(tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"input": {"manifest": str(tmp_path)}, "output": {"root": str(tmp_path / "out")}}))
    assert materialize_main(["--config", str(config)]) == 2
    assert "the segment pass has not finished in" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert report_main(["--root", str(tmp_path / "out")]) == 2
    assert "the report needs a finished run" in capsys.readouterr().err
