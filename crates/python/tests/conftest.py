"""Shared fixtures: the repository's upstream goldens (tests/fixtures/) and their tiny models."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from open_provence_rs import OpenProvence

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"
# The per-document fields of process()'s result that the goldens record (process_fixtures.py).
FIELDS = ["pruned_context", "reranking_score", "compression_rate", "title", "sentence_probabilities",
          "kept_sentences", "removed_sentences"]
TOLERANCE = 1e-4


def load_cases(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def assert_close(got, want, where: str) -> None:
    """Same structure and Python types; numbers within TOLERANCE; everything else equal."""
    if isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, float), f"{where}: {got!r} is not a float"
        assert math.isclose(got, want, abs_tol=TOLERANCE), f"{where}: {got} vs upstream {want}"
    elif isinstance(want, list):
        assert isinstance(got, list), f"{where}: {got!r} is not a list"
        assert len(got) == len(want), f"{where}: {got!r} vs upstream {want!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, f"{where}[{i}]")
    else:
        assert got == want and type(got) is type(want), f"{where}: {got!r} vs upstream {want!r}"


@pytest.fixture(scope="session")
def model() -> OpenProvence:
    """The ModernBERT golden model (tests/fixtures/process/model)."""
    return OpenProvence.from_pretrained(str(FIXTURES / "process" / "model"))
