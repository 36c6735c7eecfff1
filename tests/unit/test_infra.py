"""Deployment files, checked offline: they parse, carry what a cluster needs, name entry
points that exist, and the launcher config passes Ray's own validation."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def _module_exists(entrypoint: str) -> bool:
    module = re.search(r"python -m ([\w.]+)", entrypoint).group(1)
    return (REPO / (module.replace(".", "/") + ".py")).is_file()


def test_the_aws_launcher_config_passes_rays_validation():
    import jsonschema
    from ray.autoscaler._private.util import validate_config

    config = yaml.safe_load((INFRA / "aws" / "cluster.yaml").read_text())
    validate_config(config)
    broken = copy.deepcopy(config)
    broken["available_node_types"]["gpu-caption"]["max_wokers"] = 8
    with pytest.raises(jsonschema.ValidationError, match="max_wokers"):
        validate_config(broken)
    assert config["available_node_types"]["gpu-caption"]["min_workers"] == 0
    assert all("--metrics-export-port" in c for c in config["worker_start_ray_commands"][1:])
    # every node writes the output bucket with the same instance profile
    assert all(
        t["node_config"]["IamInstanceProfile"]["Name"] == "vidcurate-output"
        for t in config["available_node_types"].values()
    )


@pytest.mark.parametrize("name", ["raycluster.yaml", "rayjob.yaml"])
def test_kuberay_manifests_have_cpu_and_gpu_groups_that_scale_from_zero(name):
    manifest = yaml.safe_load((INFRA / "kuberay" / name).read_text())
    assert manifest["apiVersion"] == "ray.io/v1"
    spec = manifest["spec"] if manifest["kind"] == "RayCluster" else manifest["spec"]["rayClusterSpec"]
    assert spec["rayVersion"] == "2.60.0" and spec["enableInTreeAutoscaling"] is True
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    assert set(groups) == {"cpu-decode", "gpu-caption"}
    for group in [spec["headGroupSpec"], *groups.values()]:
        pod = group["template"]["spec"]
        (container,) = pod["containers"]
        shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
        assert shm["emptyDir"]["medium"] == "Memory" and shm["emptyDir"]["sizeLimit"]
        assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]
        assert group["rayStartParams"]["metrics-export-port"] == "8080"
        # every pod reaches the object store the output goes to
        assert {"secretRef": {"name": "vidcurate-object-store"}} in container["envFrom"]
    for group in groups.values():
        assert group["minReplicas"] == 0 and group["maxReplicas"] > 0
    gpu = groups["gpu-caption"]["template"]["spec"]["containers"][0]
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == "1" and gpu["image"].endswith(":gpu")
    if manifest["kind"] == "RayJob":
        assert _module_exists(manifest["spec"]["entrypoint"])
        config = manifest["spec"]["entrypoint"].split("--config ")[1].split()[0].replace("/home/ray/vidcurate/", "")
        assert (REPO / config).is_file()
        assert "--set output.root=s3://" in manifest["spec"]["entrypoint"]


def test_images_build_on_the_pinned_ray_images_with_pinned_dependencies():
    cpu = (INFRA / "docker" / "Dockerfile.cpu").read_text()
    gpu = (INFRA / "docker" / "Dockerfile.gpu").read_text()
    assert "FROM rayproject/ray:2.60.0-py311\n" in cpu and "torch==2.14.1 torchvision==0.29.1" in cpu
    assert (
        "FROM rayproject/ray:2.60.0-py311-gpu\n" in gpu and "vllm==0.33.*" in gpu and "ray[default,data]==2.60.*" in gpu
    )
    for dockerfile in (cpu, gpu):
        for line in re.findall(r"^COPY .+$", dockerfile, flags=re.M):
            for source in line.split()[2:-1]:  # after COPY --chown=..., before the destination
                assert (REPO / source).exists(), source
