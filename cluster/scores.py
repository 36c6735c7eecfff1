"""Segment scores from keyframes and their CLIP embeddings: plain numpy/torch functions."""

from __future__ import annotations

import numpy as np

REDUNDANCY_SIZE = (32, 32)


def normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def pooled_embedding(frame_embeddings: np.ndarray) -> np.ndarray:
    """Mean of the L2-normalised frame embeddings, normalised again (float32)."""
    return normalize(normalize(frame_embeddings).mean(axis=0)).astype(np.float32)


def aggregate(values: np.ndarray, mode: str) -> float:
    return float(values.min() if mode == "min" else values.mean())


def text_similarity(frame_embeddings: np.ndarray, text_embedding: np.ndarray) -> float:
    """Mean cosine between each keyframe and the text."""
    return float((normalize(frame_embeddings) @ normalize(text_embedding)).mean())


def frame_differences(gray_frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference (0-1) between consecutive low-resolution grey keyframes."""
    if len(gray_frames) < 2:
        return np.zeros(0)
    frames = gray_frames.astype(np.float32) / 255.0
    return np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))


def redundancy_score(differences: np.ndarray) -> float | None:
    """1 minus the mean keyframe difference: near 1 for a static (redundant) shot."""
    return 1.0 - float(differences.mean()) if len(differences) else None
