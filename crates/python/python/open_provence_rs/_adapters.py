"""What the framework adapters share: prune one query's texts with ``process()`` and order them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._native import OpenProvence


@dataclass(frozen=True)
class Pruned:
    """One text after pruning: where it was, what is left, its score and the share removed."""

    index: int
    text: str
    score: float
    compression_rate: float


def prune_texts(
    model: OpenProvence,
    query: str,
    texts: Sequence[str],
    *,
    threshold: float | None,
    language: str | None,
    batch_size: int,
    keep_empty: bool,
    rank: bool,
    top_n: int | None,
) -> list[Pruned]:
    """Prunes ``texts`` for ``query`` in one ``process()`` call. Texts pruned to nothing but
    whitespace are dropped unless ``keep_empty``; with ``rank`` the rest are ordered by score,
    best first (ties in input order); ``top_n`` keeps the first n."""
    if not texts:
        return []
    out = model.process(query, list(texts), threshold=threshold, language=language, batch_size=batch_size,
                        show_progress=False)
    pruned = [
        Pruned(i, text, 0.0 if score is None else score, rate)
        for i, (text, score, rate) in enumerate(zip(out["pruned_context"], out["reranking_score"],
                                                     out["compression_rate"]))
        if keep_empty or text.strip()
    ]
    if rank:
        pruned.sort(key=lambda p: p.score, reverse=True)
    return pruned if top_n is None else pruned[: max(top_n, 0)]
