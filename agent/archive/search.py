"""Search of the archive's windows by words and by meaning.

Hybrid search ranks the filtered windows twice, by BM25 over captions and by the
cosine of caption vectors to the query's, each with the filter applied before ranking,
and fuses the two rankings by reciprocal rank. ``scan_windows`` is the exact baseline:
every filtered vector scored in numpy. Windows skipped as still have no caption and are
never a match.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from agent.archive.embedder import Embedder
from agent.archive.store import ArchiveStore, StoredWindow, WindowFilter

__all__ = [
    "WindowFilter",
    "WindowHit",
    "fuse",
    "rank_fusion_scores",
    "scan_windows",
    "search_windows",
    "search_windows_near",
]

RRF_K = 60
T = TypeVar("T")
# Each ranking offers this many times `limit` candidates, so a window ranked fairly
# well by both can still overtake one ranked first by only one.
CANDIDATES_PER_RESULT = 2


@dataclass(frozen=True, slots=True)
class WindowHit:
    window: StoredWindow
    score: float  # fused reciprocal-rank score (cosine similarity for scan_windows)


async def search_windows(
    store: ArchiveStore, embedder: Embedder, text: str, where: WindowFilter, limit: int = 20
) -> list[WindowHit]:
    """The best ``limit`` windows matching ``where`` for ``text``, best first.
    Raises ValueError for a blank text or a limit below 1."""
    query = _query_text(text, limit)
    return await search_windows_near(store, query, await _embed(embedder, query), where, limit)


async def search_windows_near(
    store: ArchiveStore, text: str, vector: np.ndarray, where: WindowFilter, limit: int
) -> list[WindowHit]:
    """``search_windows`` with the text's vector already at hand."""
    depth = limit * CANDIDATES_PER_RESULT
    by_words, by_meaning = await asyncio.gather(
        store.text_search(text, where, depth), store.vector_search(vector, where, depth)
    )
    return fuse([by_words, by_meaning], limit)


async def scan_windows(
    store: ArchiveStore, embedder: Embedder, text: str, where: WindowFilter, limit: int = 20
) -> list[WindowHit]:
    """The ``limit`` filtered windows whose captions are nearest to ``text`` by exact
    cosine, read and scored in full (the baseline search is measured against)."""
    query = _query_text(text, limit)
    vector = await _embed(embedder, query)
    windows, vectors = await store.captioned_windows(where)
    if not windows:
        return []
    scores = cosine_similarity(vectors, vector)
    best = np.argsort(-scores, kind="stable")[:limit]
    return [WindowHit(windows[i], float(scores[i])) for i in best]


def fuse(rankings: Sequence[Sequence[StoredWindow]], limit: int, k: int = RRF_K) -> list[WindowHit]:
    """Reciprocal rank fusion of windows; ties go to the smaller window id."""
    scores, windows = rank_fusion_scores(rankings, lambda window: window.window_id, k)
    best = sorted(scores, key=lambda window_id: (-scores[window_id], window_id))[:limit]
    return [WindowHit(windows[window_id], scores[window_id]) for window_id in best]


def rank_fusion_scores(
    rankings: Sequence[Sequence[T]], key: Callable[[T], str], k: int = RRF_K
) -> tuple[dict[str, float], dict[str, T]]:
    """Reciprocal rank fusion: an item scores the sum of 1 / (k + rank) over the rankings
    it is in (rank from 1). Returns the scores and the items, both by key."""
    scores: dict[str, float] = {}
    items: dict[str, T] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[key(item)] = scores.get(key(item), 0.0) + 1.0 / (k + rank)
            items[key(item)] = item
    return scores, items


def cosine_similarity(vectors: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Each row's cosine to ``vector``; 0 for a zero vector."""
    norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(vector)
    dots = vectors @ vector
    similarity: np.ndarray = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return similarity


def _query_text(text: str, limit: int) -> str:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    query = text.strip()
    if not query:
        raise ValueError("search text is empty")
    return query


async def _embed(embedder: Embedder, text: str) -> np.ndarray:
    vectors = await asyncio.to_thread(embedder.embed, [text])
    vector: np.ndarray = vectors[0]
    return vector
