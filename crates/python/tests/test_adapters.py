"""The LangChain and LlamaIndex adapters end to end with the real frameworks: pruned texts and
scores are process()'s, metadata kept, empty results dropped, ranking and top_n."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

pytest.importorskip("langchain_core", reason="install the test requirements (docs/python.md)")
pytest.importorskip("llama_index.core", reason="install the test requirements (docs/python.md)")

from langchain_core.documents import Document  # noqa: E402
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode  # noqa: E402

from open_provence_rs.langchain import OpenProvenceCompressor  # noqa: E402
from open_provence_rs.llama_index import OpenProvencePostprocessor  # noqa: E402

QUERY = "Is Kyoto cold?"
TEXTS = [
    "Kyoto is cold in winter. Sushi is rice and fish.\nRamen is popular.",
    "Next spring I want to visit Japan again.\nThe weather in Kyoto was cold last time. Ramen shops were crowded!",
    "   ",
    "Tempura is fried. Kyoto has many temples.",
]


def expected(model, threshold):
    out = model.process(QUERY, TEXTS, threshold=threshold, show_progress=False)
    return list(zip(out["pruned_context"], out["reranking_score"], out["compression_rate"]))


@pytest.mark.parametrize("threshold", [0.5, 0.6])
def test_langchain_compressor_prunes_and_keeps_metadata(model, threshold):
    docs = [Document(page_content=t, metadata={"source": f"doc{i}"}, id=f"id{i}") for i, t in enumerate(TEXTS)]
    compressor = OpenProvenceCompressor(model=model, threshold=threshold)
    got = compressor.compress_documents(docs, QUERY)
    want = [(i, e) for i, e in enumerate(expected(model, threshold)) if e[0].strip()]
    assert len(got) == len(want) and len(want) < len(TEXTS), "the blank document is dropped"
    for doc, (i, (text, score, rate)) in zip(got, want):
        assert doc.page_content == text and doc.id == f"id{i}"
        assert doc.metadata == {"source": f"doc{i}", "reranking_score": score, "compression_rate": rate}
    assert docs[0].metadata == {"source": "doc0"}, "inputs untouched"
    # async through LangChain's executor default, and top_n ranking.
    again = asyncio.run(compressor.acompress_documents(docs, QUERY))
    assert [d.page_content for d in again] == [d.page_content for d in got]
    best = OpenProvenceCompressor(model=model, threshold=threshold, top_n=2).compress_documents(docs, QUERY)
    scores = sorted((d.metadata["reranking_score"] for d in got), reverse=True)
    assert [d.metadata["reranking_score"] for d in best] == scores[:2]
    kept = OpenProvenceCompressor(model=model, threshold=threshold, keep_empty=True).compress_documents(docs, QUERY)
    assert len(kept) == len(TEXTS) and kept[2].metadata["reranking_score"] == 0.0
    assert compressor.compress_documents([], QUERY) == []


def test_llama_index_postprocessor_prunes_and_reranks(model):
    nodes = [NodeWithScore(node=TextNode(text=t, id_=f"n{i}", metadata={"source": i}), score=1.0)
             for i, t in enumerate(TEXTS)]
    post = OpenProvencePostprocessor(model=model, threshold=0.5, top_n=2)
    got = post.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    want = sorted(((s, t, r, i) for i, (t, s, r) in enumerate(expected(model, 0.5)) if t.strip()),
                  key=lambda x: x[0], reverse=True)[:2]
    assert len(got) == 2
    for n, (score, text, rate, i) in zip(got, want):
        assert n.score == score and n.node.get_content() == text
        assert n.node.node_id == f"n{i}" and n.node.metadata == {"source": i, "compression_rate": rate}
    assert nodes[0].node.get_content() == TEXTS[0], "the retrieved nodes are not modified"
    by_str = post.postprocess_nodes(nodes, query_str=QUERY)
    assert [n.node.get_content() for n in by_str] == [n.node.get_content() for n in got]
    assert len(OpenProvencePostprocessor(model=model, threshold=0.5).postprocess_nodes(nodes, query_str=QUERY)) == 3
    with pytest.raises(ValueError, match="query"):
        post.postprocess_nodes(nodes)


def test_adapters_are_importable_only_with_their_framework():
    """Without the framework, importing its adapter fails; the package itself still imports."""
    code = (
        "import sys; sys.modules['langchain_core'] = None; sys.modules['llama_index'] = None\n"
        "import open_provence_rs\n"
        "for name in ('langchain', 'llama_index'):\n"
        "    try:\n"
        "        __import__('open_provence_rs.' + name)\n"
        "    except ImportError:\n"
        "        print('refused', name)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["refused langchain", "refused llama_index"]
