"""OpenProvence context pruning, run by open-provence-rs (Rust, on the CPU).

``OpenProvence.from_pretrained(path_or_repo_id)`` loads a trained reranker-pruner (a local
``final_model/``, a run directory holding one, or a Hugging Face Hub model id); its ``process()``
is a drop-in for upstream's ``OpenProvenceModel.process()`` (same arguments, defaults, input
shapes and return dict) and ``rerank()`` answers like text-embeddings-inference's ``/rerank``.

Adapters, importable when their framework is installed:
``open_provence_rs.langchain.OpenProvenceCompressor`` (LangChain ``BaseDocumentCompressor``) and
``open_provence_rs.llama_index.OpenProvencePostprocessor`` (LlamaIndex
``BaseNodePostprocessor``).
"""

from ._native import OpenProvence, __version__
from ._trace import ProcessPerformanceTrace

__all__ = ["OpenProvence", "ProcessPerformanceTrace", "__version__"]
