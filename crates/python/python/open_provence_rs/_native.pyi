"""Type stubs of the compiled module (``open_provence_rs._native``); import from ``open_provence_rs``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict

__version__: str

ContextInput = str | Sequence[str | Sequence[str]] | Sequence[Sequence[str | Sequence[str]]]
TitleInput = None | str | Sequence[str] | Sequence[Sequence[str]]

class Rank(TypedDict, total=False):
    """One item of ``rerank()``'s answer (TEI's ``Rank`` plus our pruning fields)."""

    index: int
    text: str
    score: float
    pruned_text: str
    compression_rate: float

class OpenProvence:
    """A trained OpenProvence reranker-pruner run by open-provence-rs on the CPU."""

    @classmethod
    def from_pretrained(
        cls,
        path_or_repo_id: str | os.PathLike[str],
        *,
        revision: str | None = None,
        threads: int | None = None,
    ) -> OpenProvence:
        """Load a ``final_model/`` directory, a run directory holding one, or a Hub model id."""

    def process(
        self,
        question: str | Sequence[str],
        context: ContextInput,
        title: TitleInput = "first_sentence",
        first_line_as_title: bool = False,
        *,
        batch_size: int = 32,
        threshold: float | None = None,
        always_select_title: bool = False,
        reorder: bool = False,
        top_k: int | None = None,
        sentence_splitter: None = None,
        language: Literal["auto", "en", "ja"] | None = None,
        use_best_reranker_score: bool = True,
        zero_score_when_empty: bool = True,
        show_progress: bool = True,
        debug_messages: bool | Callable[[str], None] = False,
        enable_warnings: bool = True,
        strip_sentences: bool = False,
        respect_sentence_boundaries: bool = False,
        return_sentence_metrics: bool = False,
        return_sentence_texts: bool = False,
        show_inference_progress: bool | None = None,
        preprocess_workers: int | None = None,
        preprocess_batch_size: int | None = None,
        torch_dataloader_kwargs: Mapping[str, Any] | None = None,
        legacy_prefix_offset: bool = False,
    ) -> dict[str, Any]:
        """Upstream's ``OpenProvenceModel.process()``: same arguments, shapes and return dict."""

    def rerank(
        self,
        query: str,
        texts: Sequence[str],
        *,
        raw_scores: bool = False,
        return_text: bool = False,
        return_pruned: bool = False,
        threshold: float | None = None,
        language: Literal["auto", "en", "ja"] | None = None,
        batch_size: int = 32,
    ) -> list[Rank]:
        """Rank ``texts`` for ``query`` as text-embeddings-inference's ``/rerank`` does."""

    @property
    def max_length(self) -> int:
        """Tokens per block (the model's ``max_length``)."""

    @property
    def default_threshold(self) -> float:
        """The threshold ``process()`` uses when given none."""
