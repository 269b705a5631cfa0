"""Bad input raises a Python exception (the class upstream raises where upstream rejects it too)
and leaves the interpreter and the model working."""

from __future__ import annotations

import ast
import math

import pytest
from conftest import FIXTURES, load_cases

from open_provence_rs import OpenProvence

API = load_cases("python_api/cases.json")
PAIR = ("Is Kyoto cold?", "Kyoto is cold in winter. Sushi is rice and fish.")


def still_works(model) -> None:
    out = model.process(*PAIR, show_progress=False)
    assert isinstance(out["reranking_score"], float) and math.isfinite(out["reranking_score"])


@pytest.mark.parametrize("case", API["errors"], ids=lambda c: c["name"])
def test_inputs_upstream_rejects_raise_the_same_class(model, case):
    options = {k: ast.literal_eval(v) for k, v in case["options"].items()}
    question, context = ast.literal_eval(case["question"]), ast.literal_eval(case["context"])
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the class is compared below
        model.process(question, context, show_progress=False, **options)
    assert type(raised.value).__name__ == case["exception"], raised.value
    still_works(model)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"threshold": math.nan}, ValueError, "threshold: a threshold must be a number in \\[0, 1\\], got NaN"),
        ({"threshold": 1.5}, ValueError, "got 1.5"),
        ({"threshold": -0.1}, ValueError, "got -0.1"),
        # PyO3's own argument checks (the argument is named from CPython 3.10 on).
        ({"batch_size": "8"}, TypeError, None),
        ({"top_k": 1.5}, TypeError, None),
        ({"language": 3}, TypeError, None),
        ({"sentence_splitter": str.split}, TypeError, "sentence_splitter"),
        ({"sentence_splitter": {"en": str.split}}, TypeError, "sentence_splitter"),
        ({"torch_dataloader_kwargs": {"num_workers": 2}}, TypeError, "torch_dataloader_kwargs"),
        ({"no_such_argument": 1}, TypeError, "no_such_argument"),
    ],
)
def test_bad_options_raise(model, kwargs, error, match):
    with pytest.raises(error, match=match):
        model.process(*PAIR, show_progress=False, **kwargs)
    still_works(model)


@pytest.mark.parametrize(
    ("question", "context", "error", "match"),
    [
        ("q", [None], TypeError, r"context\[0\]: expected a str or a list of str"),
        ("q", ["ok", 3], TypeError, r"context\[1\]"),
        ("q", [["ok", None]], TypeError, r"context\[0\]\[1\]: expected str, got NoneType"),
        (["q", None], ["a", "b"], TypeError, r"question\[1\]: expected str"),
        (None, "c", TypeError, "question: expected a str or a list of str, got NoneType"),
        (["a", "b"], [["x"], ["y", 4]], TypeError, r"context\[1\]\[1\]"),
    ],
)
def test_texts_must_be_strings(model, question, context, error, match):
    with pytest.raises(error, match=match):
        model.process(question, context, show_progress=False)
    still_works(model)


def test_upstream_only_arguments_that_do_nothing_are_accepted(model):
    out = model.process(*PAIR, show_progress=False, enable_warnings=False, preprocess_workers=4,
                        preprocess_batch_size=8, torch_dataloader_kwargs={}, sentence_splitter=None)
    assert out["pruned_context"]
    lines = []
    model.process(*PAIR, show_progress=False, debug_messages=lines.append)
    assert len(lines) == 1 and lines[0].startswith("[OpenProvenceModel] Timing:")


def test_missing_and_broken_model_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        OpenProvence.from_pretrained(str(tmp_path / "nope" / "model"))
    file = tmp_path / "model.txt"
    file.write_text("not a model")
    with pytest.raises(NotADirectoryError, match="is a file, not a directory"):
        OpenProvence.from_pretrained(str(file))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OSError, match=str(empty)):
        OpenProvence.from_pretrained(str(empty))
    with pytest.raises(ValueError, match="threads"):
        OpenProvence.from_pretrained(str(FIXTURES / "process" / "model"), threads=0)
    with pytest.raises(TypeError):
        OpenProvence.from_pretrained(3)


def test_unknown_hub_id_offline_is_an_os_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(OSError, match="no-such-owner/no-such-model"):
        OpenProvence.from_pretrained("no-such-owner/no-such-model")


def test_rerank_rejects_empty_and_bad_texts(model):
    with pytest.raises(ValueError, match="`texts` cannot be empty"):
        model.rerank("q", [])
    with pytest.raises(TypeError):
        model.rerank("q", "not a list")
    with pytest.raises(TypeError):
        model.rerank("q", ["a", None])
    with pytest.raises(ValueError, match="threshold"):
        model.rerank("q", ["a"], return_pruned=True, threshold=math.nan)
    still_works(model)
