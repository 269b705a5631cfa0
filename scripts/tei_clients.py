# Pinned (scripts/tei_clients.sh installs them): python 3.11.7,
# llama-index-postprocessor-tei-rerank==0.6.0 (llama-index-core 0.14.25),
# huggingface-api-haystack==3.1.0 (haystack-ai 3.4.1).
"""Real TEI client libraries against a running `open_provence_eval serve`.

A manual interoperability check (never run in CI: it needs PyPI packages); start it with
scripts/tei_clients.sh, which builds the binaries, starts the server with an API key and runs
this file. Each client reranks the same passages; their scores must equal the server's own
`/rerank` answer, and the output shows what each client returns.

    python scripts/tei_clients.py --url http://127.0.0.1:8080 --api-key KEY
"""

from __future__ import annotations

import argparse
import math
import sys

import httpx

QUERY = "How do plants make energy?"
PASSAGES = [
    "Tokyo is the capital of Japan and its largest city.",
    "Photosynthesis turns light into chemical energy in plants. Leaves hold the chlorophyll.",
    "The museum opens at nine and closes at five on weekdays.",
    "Plants store the energy of sunlight as sugar, which their cells burn for work.",
    "Rain fell all afternoon over the quiet harbour town.",
]


def reference(url: str, key: str) -> dict[int, float]:
    """The server's own ranking: index -> score."""
    r = httpx.post(
        f"{url}/rerank",
        json={"query": QUERY, "texts": PASSAGES},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    r.raise_for_status()
    return {item["index"]: item["score"] for item in r.json()}


def llama_index(url: str, key: str, want: dict[int, float]) -> None:
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
    from llama_index.postprocessor.tei_rerank import TextEmbeddingInference

    reranker = TextEmbeddingInference(base_url=url, top_n=3, auth_token=f"Bearer {key}", timeout=120)
    nodes = [NodeWithScore(node=TextNode(text=t, id_=f"p{i}"), score=0.0) for i, t in enumerate(PASSAGES)]
    out = reranker.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    print("LlamaIndex TextEmbeddingInference (top_n=3):")
    for n in out:
        print(f"  {n.score:.6f}  {n.node.node_id}  {n.node.get_content()[:60]}")
    check("LlamaIndex", [(int(n.node.node_id[1:]), n.score) for n in out], want)


def haystack(url: str, key: str, want: dict[int, float]) -> None:
    from haystack import Document
    from haystack.utils import Secret
    from haystack_integrations.components.rankers.huggingface_api import HuggingFaceTEIRanker

    ranker = HuggingFaceTEIRanker(url=url, top_k=3, token=Secret.from_token(key), timeout=120)
    docs = [Document(id=f"p{i}", content=t) for i, t in enumerate(PASSAGES)]
    out = ranker.run(query=QUERY, documents=docs)["documents"]
    print("Haystack HuggingFaceTEIRanker (top_k=3):")
    for d in out:
        print(f"  {d.score:.6f}  {d.id}  {d.content[:60]}")
    check("Haystack", [(int(d.id[1:]), d.score) for d in out], want)
    # The truncation options Haystack sends are accepted (nothing is cut: long passages are
    # split into blocks).
    from haystack_integrations.components.rankers.huggingface_api.ranker import TruncationDirection

    truncated = ranker.run(query=QUERY, documents=docs, truncation_direction=TruncationDirection.LEFT)["documents"]
    check("Haystack (truncation_direction=Left)", [(int(d.id[1:]), d.score) for d in truncated], want)


def check(name: str, got: list[tuple[int, float]], want: dict[int, float]) -> None:
    best = sorted(want.items(), key=lambda kv: -kv[1])[: len(got)]
    if [i for i, _ in got] != [i for i, _ in best]:
        sys.exit(f"{name}: order {got} != server's {best}")
    for i, score in got:
        if not math.isclose(score, want[i], abs_tol=1e-6):
            sys.exit(f"{name}: passage {i} scored {score}, server says {want[i]}")
    print(f"  {name}: same order and scores as the server's /rerank")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()
    want = reference(args.url, args.api_key)
    llama_index(args.url, args.api_key, want)
    haystack(args.url, args.api_key, want)
    # Without the key, a client gets the 401 TEI gives.
    r = httpx.post(f"{args.url}/rerank", json={"query": QUERY, "texts": PASSAGES}, timeout=60)
    print(f"Without the key: HTTP {r.status_code}, body {r.text!r}")
    if r.status_code != 401:
        sys.exit("expected 401 without the key")


if __name__ == "__main__":
    main()
