"""Named scoring presets → the CLIP backbone and aesthetic head they stand for."""

from __future__ import annotations

from cluster.models.aesthetic import HEADS, HeadSpec
from cluster.models.clip import ClipSpec

PRESETS = {
    "quality": ("ViT-L-14", "openai", "improved-sac-logos-ava1-l14"),
    "fast": ("ViT-B-32", "openai", "laion-linear-vit-b-32"),
    "random": ("ViT-B-32", None, "laion-linear-vit-b-32"),
}


def resolve(scoring) -> tuple[ClipSpec, HeadSpec]:
    """The config's scoring section as concrete model specs (explicit keys win)."""
    model, tag, head = PRESETS[scoring.preset]
    random_init = scoring.preset == "random"
    spec = ClipSpec(
        model=scoring.clip_model or model,
        pretrained=None if random_init or scoring.clip_checkpoint else scoring.clip_pretrained or tag,
        checkpoint=scoring.clip_checkpoint,
        random_init=random_init,
    )
    head_spec = HEADS[scoring.aesthetic_head or head]
    return spec, head_spec
