"""k-means over L2-normalised segment embeddings, streamed so that memory stays bounded.

Small sets use KMeans on the full array. Large ones start from KMeans on a uniform sample
(rows arrive grouped by video, so a first batch is no fair start) and are refined by
MiniBatchKMeans `partial_fit` over streamed batches: all embeddings are never in one array.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable

import numpy as np

log = logging.getLogger(__name__)

FULL_FIT_MAX_ROWS = 50_000


def choose_k(rows: int, requested: int | None) -> int:
    """The configured k, or about sqrt(rows/2); never more clusters than rows."""
    k = requested or max(1, round(math.sqrt(rows / 2)))
    if k > rows:
        log.info("only %d rows for %d clusters: k lowered to %d", rows, k, rows)
        k = max(1, rows)
    return k


def fit_centroids(batches: Callable[[], Iterable[np.ndarray]], rows: int, k: int, seed: int) -> np.ndarray:
    """Unit-length centroids. `batches` re-iterates the embeddings (float32, unit rows)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans  # 1.4 s to import: only when fitting

    if rows <= FULL_FIT_MAX_ROWS:
        data = np.concatenate(list(batches()))
        model = KMeans(n_clusters=k, random_state=seed, n_init=3).fit(data)
    else:
        sample = _uniform_sample(batches(), FULL_FIT_MAX_ROWS / rows, seed)
        start = KMeans(n_clusters=k, random_state=seed, n_init=1, max_iter=50).fit(sample).cluster_centers_
        size = max(4096, 3 * k)
        # no reassignment: a batch holding one video's segments would pull idle centres into it
        model = MiniBatchKMeans(
            n_clusters=k, init=start, n_init=1, random_state=seed, batch_size=size, reassignment_ratio=0
        )
        for batch in _rebatched(batches(), size):
            model.partial_fit(batch)
    centroids = model.cluster_centers_.astype(np.float32)
    return centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)


def assign(embeddings: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid by cosine: (cluster ids, cosine distance to it). Each row's result
    is its own, whatever batch it comes in: a float32 matrix product rounds differently with
    the batch's size, so near-ties are settled and distances computed row by row in float64."""
    similarity = embeddings @ centroids.T
    ids = similarity.argmax(axis=1)
    rows = embeddings.astype(np.float64)
    if centroids.shape[0] > 1:
        top2 = np.partition(similarity, -2, axis=1)[:, -2:]
        close = top2[:, 1] - top2[:, 0] < 1e-4
        ids[close] = (rows[close] @ centroids.T.astype(np.float64)).argmax(axis=1)
    distance = 1.0 - np.einsum("ij,ij->i", rows, centroids[ids].astype(np.float64))
    return ids.astype(np.int32), distance.astype(np.float32)


def _uniform_sample(batches: Iterable[np.ndarray], fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([b[rng.random(len(b)) < fraction] for b in batches])


def _rebatched(batches: Iterable[np.ndarray], size: int) -> Iterable[np.ndarray]:
    """Batches of at least `size` rows (partial_fit's first batch must hold k rows)."""
    pending: list[np.ndarray] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += len(batch)
        if count >= size:
            yield np.concatenate(pending)
            pending, count = [], 0
    if pending:
        yield np.concatenate(pending)
