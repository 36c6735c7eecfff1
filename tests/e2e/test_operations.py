"""Operating a run on a cluster: submit with the Jobs API, follow it, read its logs and its
`vidcurate_*` metrics from the head's Prometheus endpoint, and open its report."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections import Counter
from pathlib import Path

import yaml
from browser import image_states, rendered_dom
from offline_runs import OFFLINE

REPO = Path(__file__).resolve().parents[2]
SAMPLE = re.compile(r"^(?:ray_)?(vidcurate_\w+?)(?:_total|_count|_sum|_bucket)?\{(.*)\}\s+([0-9.eE+-]+)$")


def vidcurate_series(endpoint: str) -> dict:
    """Every vidcurate_* series: (name, our tags, worker id) -> value."""
    text = urllib.request.urlopen(endpoint, timeout=10).read().decode()
    series = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if not match or "_bucket" in line.split("{")[0]:
            continue
        name, labels, value = match.groups()
        pairs = re.findall(r'(\w+)="([^"]*)"', labels)
        tags = tuple(sorted(t for t in pairs if t[0] in ("outcome", "stage", "reason", "kind", "error_type")))
        suffix = "_count" if line.split("{")[0].endswith("_count") else ""
        series[(name + suffix, tags, dict(pairs).get("WorkerId"))] = float(value)
    return series


def grown(before: dict, after: dict) -> Counter:
    """What each metric gained between two scrapes, per (name, tags). Compared series by
    series: workers Ray retires in between take their series with them, and must not
    count as negative progress. This test process's own series (in-process runs of other
    tests, exported whenever its reporter gets to them) are left out."""
    import ray

    own = ray.get_runtime_context().get_worker_id()
    totals: Counter = Counter()
    for (name, tags, worker), value in after.items():
        if worker != own:
            totals[(name, tags)] += value - before.get((name, tags, worker), 0.0)
    return totals


def settled(endpoint: str) -> dict:
    """A scrape after earlier work in this session has finished reaching the endpoint."""
    previous = vidcurate_series(endpoint)
    while True:
        time.sleep(2.5)  # more than the test head's 1 s report interval
        current = vidcurate_series(endpoint)
        if current == previous:
            return current
        previous = current


def _wait_for(check, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(1)


def test_a_job_submitted_through_the_jobs_api_reports_progress_logs_metrics_and_its_report(
    ray_head, shared_videos, tmp_path
):
    from ray.job_submission import JobStatus, JobSubmissionClient

    config = tmp_path / "job.yaml"
    config.write_text(
        json.dumps(
            {
                "input": {"manifest": f"{shared_videos}/c*.mp4"},
                "output": {"root": str(tmp_path / "out")},
                "split": {"max_seconds": 10},
                **OFFLINE,
            }
        )
    )
    before = settled(ray_head["metrics"])
    client = JobSubmissionClient(ray_head["dashboard"])
    runtime_env = {**yaml.safe_load((REPO / "infra" / "runtime_env.yaml").read_text()), "working_dir": str(REPO)}
    job = client.submit_job(entrypoint=f"python -m jobs.curate --config {config}", runtime_env=runtime_env)
    status = _wait_for(
        lambda: client.get_job_status(job) in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}, 300
    )
    logs = client.get_job_logs(job)
    assert status and client.get_job_status(job) == JobStatus.SUCCEEDED, logs[-3000:]
    assert "segment pass:" in logs and "Running Dataset" in logs  # Ray Data progress in the job logs

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    expected = {
        ("vidcurate_videos_probed", (("outcome", "ok"),)): 2,
        ("vidcurate_segments_created", ()): summary["segments"]["total"],
        ("vidcurate_segments_kept", ()): summary["segments"]["kept"],
    }

    def delta() -> dict:
        gained = grown(before, vidcurate_series(ray_head["metrics"]))
        return {key: gained[key] for key in expected}

    assert _wait_for(lambda: delta() == expected, 60), (delta(), expected)
    gained = grown(before, vidcurate_series(ray_head["metrics"]))
    for stage in ("split", "keyframes", "materialize"):
        assert gained[("vidcurate_frames_decoded", (("stage", stage),))] > 0, stage
        assert gained[("vidcurate_decode_seconds_count", (("stage", stage),))] > 0, stage
    assert gained[("vidcurate_scoring_batch_seconds_count", ())] > 0
    assert gained[("vidcurate_tokens_emitted", (("kind", "video"),))] > 0

    assert "report written to" in logs
    states = image_states(rendered_dom(tmp_path / "out" / "report" / "index.html"))
    assert len(states) > 8 and set(states.values()) == {"loaded"}, states
