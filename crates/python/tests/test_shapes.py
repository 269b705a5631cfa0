"""Input shapes, argument forms and the return dict's keys, order and Python types, against
upstream's own process() (tests/fixtures/python_api, made by
scripts/fixtures/python_api_fixtures.py): tuples, one-element question lists, empty lists,
per-query and per-document titles, top_k=0 and negative, batch_size=0."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import FIELDS, assert_close, load_cases

from open_provence_rs import ProcessPerformanceTrace

API = load_cases("python_api/cases.json")


def argument(value):
    """A recorded argument: {"tuple": [...]} back to a tuple."""
    if isinstance(value, dict):
        return tuple(argument(v) for v in value["tuple"])
    if isinstance(value, list):
        return [argument(v) for v in value]
    return value


def type_of(value) -> str:
    """As the generator writes it: list item types joined, sorted."""
    if isinstance(value, list):
        return f"list[{'|'.join(sorted({type_of(v) for v in value}))}]"
    return type(value).__name__


@pytest.mark.parametrize("case", API["cases"], ids=lambda c: c["name"])
def test_shapes_keys_and_types_match_upstream(model, case):
    out = model.process(argument(case["question"]), argument(case["context"]), show_progress=False,
                        legacy_prefix_offset=True, **case["options"])
    assert list(out) == case["keys"]
    assert list(out["timing"]) == case["timing_keys"]
    trace = out["performance_trace"]
    assert type(trace).__name__ == case["performance_trace"]
    assert isinstance(trace, ProcessPerformanceTrace) and trace.as_dict() == out["timing"]
    assert dataclasses.asdict(trace) == out["timing"]
    for field in FIELDS:
        assert_close(out.get(field), case["output"][field], f"{case['name']}.{field}")
        if field in out:
            assert type_of(out[field]) == case["types"][field], field


def test_aligned_equals_one_call_per_pair(model):
    """Relational: aligned lists give, per query, what a (str, str) call gives."""
    questions = ["Is Kyoto cold?", "What is sushi?"]
    contexts = ["Kyoto is cold in winter. Sushi is rice.", "Ramen is popular. Sushi is fish."]
    together = model.process(questions, contexts, show_progress=False, return_sentence_metrics=True)
    for i, (q, c) in enumerate(zip(questions, contexts)):
        alone = model.process(q, c, show_progress=False, return_sentence_metrics=True)
        for field in ["pruned_context", "reranking_score", "compression_rate", "sentence_probabilities"]:
            assert_close(together[field][i], alone[field], f"{field}[{i}]")
