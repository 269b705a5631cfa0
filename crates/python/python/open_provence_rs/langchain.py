"""LangChain adapter: ``OpenProvenceCompressor``, a ``BaseDocumentCompressor`` that prunes each
``Document.page_content`` to the sentences relevant to the query (needs ``langchain-core``).

    from langchain.retrievers import ContextualCompressionRetriever
    compressor = OpenProvenceCompressor(model=OpenProvence.from_pretrained(...))
    retriever = ContextualCompressionRetriever(base_compressor=compressor, base_retriever=...)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict

from ._adapters import prune_texts


class OpenProvenceCompressor(BaseDocumentCompressor):
    """Prunes retrieved documents with an OpenProvence model.

    Each document comes back with its ``page_content`` pruned, its metadata kept, and
    ``reranking_score`` and ``compression_rate`` (percent of characters removed) added to the
    metadata. Documents pruned to nothing are dropped unless ``keep_empty``; with ``top_n`` the
    documents are ordered by score and the best ``top_n`` kept, else they keep their order.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: Any
    """An ``open_provence_rs.OpenProvence``."""
    threshold: Optional[float] = None
    """Keep sentences whose probability is above this (default: the model's, else 0.1)."""
    top_n: Optional[int] = None
    """Order by score and keep this many (default: all, in their order)."""
    keep_empty: bool = False
    """Keep documents pruned to nothing (with empty ``page_content`` and score 0.0)."""
    language: Optional[str] = None
    """Sentence splitter: ``"auto"`` (default), ``"en"`` or ``"ja"``."""
    batch_size: int = 32
    """Blocks per forward pass."""

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Optional[Callbacks] = None,
    ) -> Sequence[Document]:
        """The documents pruned for ``query``."""
        pruned = prune_texts(
            self.model,
            query,
            [doc.page_content for doc in documents],
            threshold=self.threshold,
            language=self.language,
            batch_size=self.batch_size,
            keep_empty=self.keep_empty,
            rank=self.top_n is not None,
            top_n=self.top_n,
        )
        return [
            Document(
                page_content=p.text,
                metadata={
                    **documents[p.index].metadata,
                    "reranking_score": p.score,
                    "compression_rate": p.compression_rate,
                },
                id=documents[p.index].id,
            )
            for p in pruned
        ]
