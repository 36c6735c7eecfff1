"""Semantic dedup inside one cluster: pairs with cosine similarity above 1 - eps are
duplicates; each connected group keeps one member by a configurable rule."""

from __future__ import annotations

import numpy as np

BLOCK = 2048


def duplicate_groups(embeddings: np.ndarray, eps: float) -> np.ndarray:
    """Group label per row (the smallest row index of its group), via union-find over all
    pairs above the threshold, computed in blocks so memory is BLOCK × rows."""
    n = len(embeddings)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for start in range(0, n, BLOCK):
        sims = embeddings[start : start + BLOCK] @ embeddings.T
        rows, cols = np.nonzero(sims > 1.0 - eps)
        for a, b in zip(rows + start, cols, strict=True):
            if a < b:
                ra, rb = find(int(a)), find(int(b))
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)])


def keepers(groups: np.ndarray, preference: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Index of the kept member for every row: highest preference, ties by smallest id."""
    order = np.lexsort((ids, -preference))  # best first
    best: dict[int, int] = {}
    for i in order:
        best.setdefault(int(groups[i]), int(i))
    return np.array([best[int(g)] for g in groups])
