#!/usr/bin/env bash
# Runs real TEI client libraries (LlamaIndex's and Haystack's TEI rerankers) against
# `open_provence_eval serve` on 127.0.0.1 with an API key: a manual interoperability check, never
# run in CI (it installs PyPI packages). See docs/serving.md, "TEI clients".
#
#   scripts/tei_clients.sh            # VENV=/work/venvs/tei-clients WORK=$(mktemp -d) by default
#
# The model is serve-load's random xsmall model (`serve-load prepare`): scores are meaningless,
# what is checked is that each client gets exactly the server's ranking.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-/work/venvs/tei-clients}
WORK=${WORK:-$(mktemp -d)}
TARGET=${CARGO_TARGET_DIR:-target}/release

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "llama-index-postprocessor-tei-rerank==0.6.0" "llama-index-core==0.14.25" \
        "huggingface-api-haystack==3.1.0" "haystack-ai==3.4.1"
fi

cargo build --release -p open_provence_eval -p serve-load
[ -f "$WORK/model/model.safetensors" ] || "$TARGET/serve-load" prepare --out "$WORK"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KEY="tei-clients-$RANDOM$RANDOM"
# The key through the environment (API_KEY), so it does not show in the process list.
API_KEY="$KEY" RUST_LOG=warn "$TARGET/open_provence_eval" --threads 2 serve --model "$WORK/model" \
    --hostname 127.0.0.1 --port "$PORT" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
    sleep 0.2
done
"$VENV/bin/python" scripts/tei_clients.py --url "http://127.0.0.1:$PORT" --api-key "$KEY"
