"""rerank(): text-embeddings-inference's /rerank answer (fields, order, tie order) built from
the same scores process() gives."""

from __future__ import annotations

import math

TEXTS = ["Sushi is rice and fish.", "Kyoto is cold in winter.", "Sushi is rice and fish.", "Ramen is popular."]
QUERY = "Is Kyoto cold?"


def test_scores_are_process_scores_best_first(model):
    ranks = model.rerank(QUERY, TEXTS)
    assert all(list(r) == ["index", "score"] for r in ranks)
    assert sorted(r["index"] for r in ranks) == [0, 1, 2, 3]
    processed = model.process(QUERY, TEXTS, show_progress=False, zero_score_when_empty=False)
    for r in ranks:
        assert math.isclose(r["score"], processed["reranking_score"][r["index"]], abs_tol=1e-12)
    scores = [r["score"] for r in ranks]
    assert scores == sorted(scores, reverse=True)
    # Equal scores (the same text twice): the later text first, as TEI orders ties.
    tied = [r["index"] for r in ranks if r["index"] in (0, 2)]
    assert tied == [2, 0]


def test_optional_fields(model):
    ranks = model.rerank(QUERY, TEXTS, return_text=True, return_pruned=True, raw_scores=True, threshold=0.5)
    assert all(list(r) == ["index", "text", "score", "pruned_text", "compression_rate"] for r in ranks)
    processed = model.process(QUERY, TEXTS, show_progress=False, threshold=0.5)
    sigmoid = {r["index"]: r["score"] for r in model.rerank(QUERY, TEXTS)}
    for r in ranks:
        assert r["text"] == TEXTS[r["index"]]
        assert math.isclose(1 / (1 + math.exp(-r["score"])), sigmoid[r["index"]], abs_tol=1e-6)
        assert r["pruned_text"] == processed["pruned_context"][r["index"]]
        assert math.isclose(r["compression_rate"], processed["compression_rate"][r["index"]])
