"""open_clip backbones: by model name + pretrained tag, a local checkpoint, or random weights."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import open_clip
import torch
import torch.nn.functional as F
from torchvision import transforms


class ClipUnavailable(RuntimeError):
    """The model name, tag or weights cannot be used; the message says what to set."""


class ClipModel(Protocol):
    """What the stages use of an open_clip model (CLIP and CustomTextCLIP alike)."""

    def encode_image(self, image: torch.Tensor) -> torch.Tensor: ...

    def encode_text(self, text: torch.Tensor) -> torch.Tensor: ...


Preprocess = Callable[[Any], torch.Tensor]  # a PIL image to the model's input tensor
Tokenizer = Callable[[list[str]], torch.Tensor]


@dataclass(frozen=True)
class ClipSpec:
    model: str  # open_clip model name, e.g. ViT-B-32
    pretrained: str | None  # open_clip pretrained tag, e.g. openai; None with checkpoint or random
    checkpoint: str | None = None  # local weights file
    random_init: bool = False  # real architecture, random weights: scores carry no meaning

    @property
    def label(self) -> str:
        source = "random-init" if self.random_init else self.checkpoint or self.pretrained
        return f"{self.model}/{source}"


def validate(spec: ClipSpec) -> None:
    """Check names and make sure the weights are on disk (downloading them once), so a bad
    model fails before any worker starts."""
    if spec.model not in open_clip.list_models():
        close = difflib.get_close_matches(spec.model, open_clip.list_models(), n=5)
        raise ClipUnavailable(f"unknown open_clip model {spec.model!r}; close names: {close}")
    if spec.random_init:
        return
    if spec.checkpoint:
        if not Path(spec.checkpoint).is_file():
            raise ClipUnavailable(f"CLIP checkpoint {spec.checkpoint} for {spec.model} does not exist")
        return
    tags = open_clip.list_pretrained_tags_by_model(spec.model)
    if spec.pretrained not in tags:
        raise ClipUnavailable(f"{spec.model} has no pretrained tag {spec.pretrained!r}; valid tags: {tags}")
    try:
        open_clip.download_pretrained(open_clip.get_pretrained_cfg(spec.model, spec.pretrained))
    except Exception as exc:
        raise ClipUnavailable(
            f"weights for {spec.model} ({spec.pretrained}) could not be fetched: {type(exc).__name__}: {exc}. "
            "Download them where there is network and set scoring.clip_checkpoint to the file, "
            "or use scoring.preset: random for an offline run whose scores mean nothing"
        ) from exc


def load(spec: ClipSpec, device: str) -> tuple[ClipModel, Preprocess, Tokenizer]:
    """(model in eval mode on `device`, its image preprocess, its tokenizer)."""
    model, preprocess = _build(spec, device)
    return model.eval(), preprocess, open_clip.get_tokenizer(spec.model)


def load_text(spec: ClipSpec, device: str) -> tuple[ClipModel, Tokenizer]:
    """(the model without its vision tower, in eval mode on `device`; its tokenizer). The
    text weights are those `load` gives; the vision tower (most of a ViT-L-14's memory) is
    dropped on the CPU before the model moves, so a text scorer beside a captioner on a GPU
    holds only what it uses."""
    model, _ = _build(spec, "cpu")
    model.visual = None
    return model.to(device).eval(), open_clip.get_tokenizer(spec.model)


def _build(spec: ClipSpec, device: str) -> tuple[Any, Preprocess]:
    weights = None if spec.random_init else spec.checkpoint or spec.pretrained
    if spec.random_init:
        torch.manual_seed(0)  # every actor (and a test) builds the same random weights
    model, _, preprocess = open_clip.create_model_and_transforms(spec.model, pretrained=weights, device=device)
    return model, preprocess


@dataclass(frozen=True)
class TensorPreprocess:
    """open_clip's image preprocess (shorter side to `size`, bicubic with antialiasing,
    centre crop, normalise) as batched tensor ops, on whatever device the images are. On a
    GPU the per-image PIL path would bound throughput; on CPU PIL is faster, so this is for
    CUDA only. The same pixels as the PIL path where no resize is needed (the test checks it)."""

    size: int
    crop: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def of(cls, preprocess: Preprocess) -> TensorPreprocess | None:
        """The steps read off an open_clip preprocess; None when it holds other steps."""
        steps = {type(t).__name__: t for t in getattr(preprocess, "transforms", [])}
        expected = {"Resize", "CenterCrop", "Normalize", "MaybeConvertMode", "MaybeToTensor"}
        if set(steps) != expected:
            return None
        resize, crop, norm = steps["Resize"], steps["CenterCrop"], steps["Normalize"]
        if not isinstance(resize.size, int) or resize.max_size is not None:
            return None
        if resize.interpolation != transforms.InterpolationMode.BICUBIC or crop.size[0] != crop.size[1]:
            return None
        return cls(resize.size, crop.size[0], tuple(norm.mean), tuple(norm.std))

    def __call__(self, images: Sequence[torch.Tensor]) -> torch.Tensor:
        """(N, 3, crop, crop) floats from uint8 RGB images (3, H, W) of any sizes, on the
        images' device."""
        device = images[0].device
        out = torch.empty((len(images), 3, self.crop, self.crop), device=device)
        by_shape: dict[tuple, list[int]] = defaultdict(list)
        for i, image in enumerate(images):
            by_shape[tuple(image.shape)].append(i)
        mean = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        for (_, h, w), members in by_shape.items():
            batch = torch.stack([images[i] for i in members]).float()
            # torchvision's rule for the longer side, then PIL's rounding to 8-bit pixels
            nh, nw = (self.size, int(self.size * w / h)) if h <= w else (int(self.size * h / w), self.size)
            batch = F.interpolate(batch, size=(nh, nw), mode="bicubic", antialias=True, align_corners=False)
            top, left = round((nh - self.crop) / 2), round((nw - self.crop) / 2)
            batch = batch[:, :, top : top + self.crop, left : left + self.crop].clamp(0, 255).round() / 255
            out[members] = (batch - mean) / std
        return out
