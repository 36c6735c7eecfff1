"""Operating a run on a cluster: submit with the Jobs API, follow it, read its logs and its
`vidcurate_*` metrics from the head's Prometheus endpoint, and open its report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_the_grafana_dashboard_charts_only_metrics_vidcurate_exports():
    from cluster.metrics import _SPECS

    dashboard = json.loads((REPO / "infra" / "grafana" / "dashboards" / "vidcurate.json").read_text())
    queried = {
        re.sub(r"_(total|bucket|count|sum)$", "", name.removeprefix("ray_"))
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"ray_vidcurate_\w+", target["expr"])
    }
    assert queried == set(_SPECS)  # every metric charted, nothing charted that does not exist
    for folder in ("datasources", "dashboards"):
        (provisioning,) = (REPO / "infra" / "grafana" / "provisioning" / folder).glob("*.yaml")
        assert yaml.safe_load(provisioning.read_text())["apiVersion"] == 1
    scrape = yaml.safe_load((REPO / "infra" / "prometheus" / "prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["file_sd_configs"][0]["files"] == [
        "/tmp/ray/prom_metrics_service_discovery.json"
    ]
