"""LAION aesthetic predictor heads over L2-normalised CLIP image embeddings (1-10 scale)."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class HeadSpec:
    name: str
    kind: str  # linear | improved
    dim: int
    url: str


HEADS = {
    "laion-linear-vit-b-32": HeadSpec(
        "laion-linear-vit-b-32",
        "linear",
        512,
        "https://github.com/LAION-AI/aesthetic-predictor/raw/main/sa_0_4_vit_b_32_linear.pth",
    ),
    "laion-linear-vit-l-14": HeadSpec(
        "laion-linear-vit-l-14",
        "linear",
        768,
        "https://github.com/LAION-AI/aesthetic-predictor/raw/main/sa_0_4_vit_l_14_linear.pth",
    ),
    "improved-sac-logos-ava1-l14": HeadSpec(
        "improved-sac-logos-ava1-l14",
        "improved",
        768,
        "https://github.com/christophschuhmann/improved-aesthetic-predictor/raw/main/sac+logos+ava1-l14-linearMSE.pth",
    ),
}

CACHE = Path.home() / ".cache" / "vidcurate" / "aesthetic"


class AestheticUnavailable(RuntimeError):
    """The head's weights can be neither read nor downloaded."""


class ImprovedHead(nn.Module):
    """christophschuhmann/improved-aesthetic-predictor's MLP (its state-dict key layout)."""

    def __init__(self, dim: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(dim, 1024),
            nn.Dropout(0.2),
            nn.Linear(1024, 128),
            nn.Dropout(0.2),
            nn.Linear(128, 64),
            nn.Dropout(0.1),
            nn.Linear(64, 16),
            nn.Linear(16, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def build_head(spec: HeadSpec, weights: str | Path | None) -> nn.Module:
    """Load a head; weights are read with weights_only=True (no pickled code runs).
    Without weights the head keeps a fixed random initialisation (offline demos)."""
    torch.manual_seed(0)
    head = nn.Linear(spec.dim, 1) if spec.kind == "linear" else ImprovedHead(spec.dim)
    if weights is not None:
        head.load_state_dict(torch.load(str(weights), map_location="cpu", weights_only=True))
    return head.eval()


def head_weights(spec: HeadSpec, path: str | None) -> Path:
    """The local file of the head: the configured path, or the upstream file, cached."""
    if path:
        if not Path(path).is_file():
            raise AestheticUnavailable(f"aesthetic head {spec.name}: no file at {path}")
        return Path(path)
    target = CACHE / spec.url.rsplit("/", 1)[1]
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            tmp = target.with_suffix(".part")
            urllib.request.urlretrieve(spec.url, tmp)
            tmp.replace(target)
        except OSError as exc:
            raise AestheticUnavailable(
                f"aesthetic head {spec.name} could not be downloaded from {spec.url} ({exc}); "
                "set scoring.aesthetic_head_path to a local copy of that file"
            ) from exc
    return target


@torch.no_grad()
def score(head: nn.Module, embeddings: torch.Tensor) -> torch.Tensor:
    """Scores for (N, D) L2-normalised embeddings."""
    return head(embeddings.float()).squeeze(-1)
