"""LlamaIndex adapter: ``OpenProvencePostprocessor``, a ``BaseNodePostprocessor`` that prunes each
node's text to the sentences relevant to the query and reranks the nodes by the model's score
(needs ``llama-index-core``).

    postprocessor = OpenProvencePostprocessor(model=OpenProvence.from_pretrained(...), top_n=5)
    query_engine = index.as_query_engine(node_postprocessors=[postprocessor])
"""

from __future__ import annotations

from typing import Any, List, Optional

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from pydantic import Field

from ._adapters import prune_texts


class OpenProvencePostprocessor(BaseNodePostprocessor):
    """Prunes and reranks retrieved nodes with an OpenProvence model.

    Each node comes back as a copy whose text is pruned and whose metadata gains
    ``compression_rate`` (percent of characters removed); its score is the model's reranking
    score, the nodes are ordered best first and the first ``top_n`` kept. Nodes pruned to
    nothing are dropped unless ``keep_empty``. The original nodes are not modified.
    """

    model: Any = Field(description="An open_provence_rs.OpenProvence.")
    top_n: Optional[int] = Field(default=None, description="Nodes to keep after reranking (default: all).")
    threshold: Optional[float] = Field(
        default=None, description="Keep sentences above this probability (default: the model's, else 0.1)."
    )
    keep_empty: bool = Field(default=False, description="Keep nodes pruned to nothing (score 0.0).")
    language: Optional[str] = Field(default=None, description="Sentence splitter: auto (default), en or ja.")
    batch_size: int = Field(default=32, description="Blocks per forward pass.")

    @classmethod
    def class_name(cls) -> str:
        return "OpenProvencePostprocessor"

    def _postprocess_nodes(
        self,
        nodes: List[NodeWithScore],
        query_bundle: Optional[QueryBundle] = None,
    ) -> List[NodeWithScore]:
        if query_bundle is None:
            raise ValueError("Missing query bundle: OpenProvencePostprocessor prunes for a query.")
        pruned = prune_texts(
            self.model,
            query_bundle.query_str,
            [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes],
            threshold=self.threshold,
            language=self.language,
            batch_size=self.batch_size,
            keep_empty=self.keep_empty,
            rank=True,
            top_n=self.top_n,
        )
        out = []
        for p in pruned:
            node = nodes[p.index].node.model_copy()
            node.set_content(p.text)
            node.metadata = {**node.metadata, "compression_rate": p.compression_rate}
            out.append(NodeWithScore(node=node, score=p.score))
        return out
