"""Upstream's ``ProcessPerformanceTrace`` (``open_provence/modeling_open_provence_standalone.py``):
the object ``process()`` returns as ``performance_trace``, with the same fields and ``as_dict()``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ProcessPerformanceTrace:
    """Seconds spent per stage of one ``process()`` call.

    The five stages are measured; the preprocessing sub-stages (``sentence_collect_seconds`` to
    ``fragment_decode_seconds``) are not measured separately by open-provence-rs and read 0.0.
    """

    preprocess_seconds: float = 0.0
    assembly_seconds: float = 0.0
    inference_seconds: float = 0.0
    postprocess_seconds: float = 0.0
    total_seconds: float = 0.0
    sentence_collect_seconds: float = 0.0
    sentence_normalize_seconds: float = 0.0
    tokenize_seconds: float = 0.0
    fragment_split_seconds: float = 0.0
    fragment_decode_seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """The fields as the ``timing`` dict of ``process()``'s result."""
        return {
            "preprocess_seconds": float(self.preprocess_seconds),
            "assembly_seconds": float(self.assembly_seconds),
            "inference_seconds": float(self.inference_seconds),
            "postprocess_seconds": float(self.postprocess_seconds),
            "total_seconds": float(self.total_seconds),
            "sentence_collect_seconds": float(self.sentence_collect_seconds),
            "sentence_normalize_seconds": float(self.sentence_normalize_seconds),
            "tokenize_seconds": float(self.tokenize_seconds),
            "fragment_split_seconds": float(self.fragment_split_seconds),
            "fragment_decode_seconds": float(self.fragment_decode_seconds),
        }
