"""Arrow schemas of every table vidcurate writes.

Parquet is always written with these schemas, so a shard whose rows are all null in some
column still has that column's real type and the folder reads as one dataset.
"""

from __future__ import annotations

import pyarrow as pa

# bumped when pass 3 counts or writes samples differently: a rerun into a root written by
# another version is then a settings change (--replace redoes pass 3)
PIPELINE_VERSION = "0.2.0"

PROBE = pa.struct(
    [
        ("num_frames", pa.int64()),
        ("duration", pa.float64()),
        ("avg_fps", pa.float64()),
        ("coded_width", pa.int32()),
        ("coded_height", pa.int32()),
        ("sar", pa.string()),
        ("rotation", pa.int32()),
        ("display_width", pa.int32()),
        ("display_height", pa.int32()),
        ("codec", pa.string()),
        ("has_audio", pa.bool_()),
        ("start_time", pa.float64()),
        ("probe_backend", pa.string()),
        ("timestamp_jumps", pa.int32()),  # where timestamps jumped past input limits.max_frame_gap_s: cut there
    ]
)

TEXT_FIELDS = ("title", "description", "transcript")

_ERROR_FIELDS = [
    ("stage", pa.string()),
    ("error_type", pa.string()),
    ("error_message", pa.string()),
]

# Pass 1: one row per segment, or one row per video that produced no segment.
CANDIDATES = pa.schema(
    [
        ("input_index", pa.int64()),  # position in the manifest: duplicates are separate inputs
        ("video_rows", pa.int32()),  # rows this input produced, so a resumed run knows it is complete
        ("video_id", pa.string()),
        ("segment_id", pa.string()),
        ("uri", pa.string()),
        ("source_fingerprint", pa.string()),  # size:mtime (or ETag) when probed
        *[(name, pa.string()) for name in TEXT_FIELDS],
        ("text_truncated", pa.list_(pa.string())),  # the text fields cut to input.max_text_chars
        ("status", pa.string()),  # ok | filtered | error
        ("reason", pa.string()),  # why filtered
        *_ERROR_FIELDS,
        ("segment_index", pa.int32()),
        ("scene_index", pa.int32()),
        ("start_frame", pa.int64()),
        ("end_frame", pa.int64()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("duration_s", pa.float64()),
        # frames of the segment the decoder could not produce or flagged damaged: of all its
        # frames (split.mode scenes), or of its keyframes when those filtered it; null: not looked at
        ("corrupt_frames", pa.int32()),
        # start time of each of the segment's frames, seconds after the probe's start_time:
        # pass 3 reads its frames by these, without indexing the video again
        ("frame_times", pa.list_(pa.float64())),
        ("display_aspect_ratio", pa.float64()),
        ("probe", PROBE),
        # scores (null when not computed; never a sentinel)
        ("keyframe_times", pa.list_(pa.float64())),
        ("keyframe_diffs", pa.list_(pa.float64())),
        ("redundancy", pa.float64()),  # 1 - mean keyframe difference; near 1 = static
        ("aesthetic", pa.float64()),
        ("aesthetic_frames", pa.list_(pa.float64())),
        ("clip_similarity", pa.float64()),  # null when the video has no text
        ("embedding", pa.list_(pa.float32())),  # pooled, L2-normalised
        ("clip_model", pa.string()),
        ("aesthetic_model", pa.string()),
        ("scores_meaningful", pa.bool_()),  # false for randomly initialised models
    ]
)

# Pass 2: the decision for every candidate row.
# the reason on an error row whose stage failed on a bug of ours, let through by errors.max_fraction
BUG_REASON = "bug"
DEDUP_REASONS = ("near_duplicate", "source_cap", "cluster_cap")  # drops by dedup and caps, after the thresholds
SELECTION = pa.schema(
    [
        ("video_id", pa.string()),
        ("segment_id", pa.string()),
        ("keep", pa.bool_()),
        ("drop_reason", pa.string()),
        ("cluster_id", pa.int32()),  # null when the row was not clustered
        ("centroid_distance", pa.float32()),  # cosine distance to its centroid
        ("duplicate_group", pa.string()),  # segment id of the group's kept member
        ("duplicate_of", pa.string()),  # set on near_duplicate drops
    ]
)

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])

VIDEO_METADATA = pa.struct(
    [
        ("fps", pa.float64()),
        ("frames_indices", pa.list_(pa.int64())),
        ("total_num_frames", pa.int64()),
    ]
)

MEDIA_ITEM = pa.struct(
    [
        ("kind", pa.string()),  # video | image
        ("placeholder", pa.string()),  # <video> | <image>
        ("pad_tokens", pa.int32()),
        ("sequence_tokens", pa.int32()),
        ("grid_thw", pa.list_(pa.int32())),
        ("frames_used", pa.int32()),
        ("frame_indices", pa.list_(pa.int64())),
        ("stored_height", pa.int32()),
        ("stored_width", pa.int32()),
        ("resized_height", pa.int32()),
        ("resized_width", pa.int32()),
        ("sampled_fps", pa.float64()),
        # what a trainer hands transformers' processor with the frames (video_metadata, with
        # do_sample_frames off): source frame indices and fps, so Qwen3-VL's timestamps are source times
        ("video_metadata", VIDEO_METADATA),
        ("timestamps", pa.list_(pa.float64())),  # Qwen3-VL: the time written before each temporal step
        ("timestamp_tokens", pa.int32()),  # tokens of those "<t seconds>" texts (0 for other families)
    ]
)

QA_PAIR = pa.struct([("question", pa.string()), ("answer", pa.string())])

CAPTION_QUALITY = pa.struct(
    [
        ("short_chars", pa.int32()),
        ("detailed_chars", pa.int32()),
        ("truncated", pa.bool_()),  # a caption hit its token budget or time limit
        ("repetition", pa.float64()),  # share of repeated 4-grams, worst of the two captions
        ("clip_similarity", pa.float64()),  # CLIP: answer caption vs the segment's keyframes
    ]
)

# Pass 3: one trainer-ready sharegpt sample per row.
DATASET = pa.schema(
    [
        ("id", pa.string()),
        ("messages", pa.list_(MESSAGE)),
        ("videos", pa.list_(pa.list_(pa.string()))),  # each video: its frame files, in order
        ("video_clips", pa.list_(pa.string())),  # the same videos as mp4, when written
        ("images", pa.list_(pa.string())),
        ("media", pa.list_(MEDIA_ITEM)),
        ("image_pad_tokens", pa.int32()),
        ("video_pad_tokens", pa.int32()),
        ("visual_tokens", pa.int32()),  # pads plus vision start/end tokens
        ("timestamp_tokens", pa.int32()),  # Qwen3-VL's per-step timestamp texts
        ("text_tokens", pa.int32()),  # null unless a tokenizer is configured (then it covers the timestamps)
        ("total_tokens", pa.int32()),  # visual plus text, or plus timestamps when text is not counted
        ("token_profile", pa.string()),
        ("token_profile_params", pa.string()),  # JSON of every resolved parameter
        ("budget_adjustment", pa.string()),  # what max_total_tokens changed, if anything
        ("sample_kind", pa.string()),  # video | image (the best keyframe alone)
        ("caption_status", pa.string()),  # captioned | random_weights | manifest_text | not_captioned
        ("caption_short", pa.string()),
        ("caption_detailed", pa.string()),
        ("qa", pa.list_(QA_PAIR)),
        ("caption_model", pa.string()),
        ("caption_settings", pa.string()),  # JSON: backend, prompts, generation settings
        ("caption_quality", CAPTION_QUALITY),
        ("aesthetic", pa.float64()),
        ("clip_similarity", pa.float64()),  # pass-1 keyframes vs manifest text
        ("redundancy", pa.float64()),
        ("cluster_id", pa.int32()),
        ("duplicate_group", pa.string()),
        ("source_uri", pa.string()),
        ("video_id", pa.string()),
        ("segment_id", pa.string()),
        ("segment_start_s", pa.float64()),
        ("segment_end_s", pa.float64()),
        ("scene_index", pa.int32()),
        ("probe", PROBE),
        ("display_aspect_ratio", pa.float64()),
        ("pipeline_version", pa.string()),
        ("config_hash", pa.string()),
    ]
)

ERRORS = pa.schema(
    [
        ("input", pa.string()),
        ("video_id", pa.string()),
        ("segment_id", pa.string()),
        *_ERROR_FIELDS,
    ]
)


# Every manifest entry's outcome: the per-input view of summary.json.
INPUTS = pa.schema(
    [
        ("input_index", pa.int64()),
        ("uri", pa.string()),
        ("outcome", pa.string()),  # kept | filtered | errored
        ("reason", pa.string()),  # "sample" when kept; the filter reason; "stage:ErrorType"
    ]
)

# Pass 3 in flight: a sample being built, with what the stages between need.
PASS3_WORK = pa.schema(
    [
        *DATASET,
        ("input", pa.string()),
        ("status", pa.string()),  # ok | filtered | error
        ("reason", pa.string()),
        *_ERROR_FIELDS,
        ("manifest_text", pa.string()),
        ("embedding", pa.list_(pa.float32())),
        ("segment_rows", pa.int32()),  # rows this segment ends as (a video and an image sample: 2)
        # the bytes just written for the trainer (JPEG frames, or the mp4 when only clips are
        # written), one operator hop to the captioner, so it reads nothing back from storage
        ("media_bytes", pa.list_(pa.binary())),
    ]
)


def table_from_rows(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Rows to a table of exactly `schema`; columns a row lacks become null."""
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)
