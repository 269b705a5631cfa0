#!/usr/bin/env bash
# Fuzzes every target of fuzz/fuzz_targets/ with libFuzzer for SECONDS each (default 60), seeded
# from the test fixtures, and prints one line per target: seconds run, executions, corpus size,
# findings (crash, timeout or out-of-memory inputs, saved under $FUZZ_WORK/artifacts/<target>/).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Bounds per input: no panic or abort, at most FUZZ_TIMEOUT_S seconds (default 10), at most
# FUZZ_RSS_MB MiB resident and per allocation (default 2048). libFuzzer stops a target at its
# first finding; reproduce one with `<binary> <artifact>` (the path is printed; a run clears the
# previous findings of its targets).
# The targets are built as cargo-fuzz builds them (SanitizerCoverage, debug assertions, release
# optimisation) with FUZZ_TOOLCHAIN (default nightly; stable works without a sanitizer);
# FUZZ_SANITIZER=address adds AddressSanitizer (nightly only, about 2x slower). The build has its
# own target dir (FUZZ_TARGET_DIR): instrumented artifacts share nothing with ordinary ones.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
timeout_s="${FUZZ_TIMEOUT_S:-10}"
rss_mb="${FUZZ_RSS_MB:-2048}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/open-provence/fuzz-target}"
work="${FUZZ_WORK:-$CARGO_TARGET_DIR/fuzz-work}"
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(find fuzz/fuzz_targets -name '*.rs' -printf '%f\n' | sed 's/\.rs$//' | sort)
fi

triple="$(rustc "+$toolchain" -vV | sed -n 's/^host: //p')"
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
if [ "${FUZZ_SANITIZER:-none}" = address ]; then
    flags="$flags -Zsanitizer=address"
fi
# `--target` keeps build scripts and proc macros uninstrumented.
RUSTFLAGS="$flags" cargo "+$toolchain" build --release --target "$triple" -p provence-fuzz --bins >&2
bin_dir="$CARGO_TARGET_DIR/$triple/release"

# Seeds of TARGET (dir $2): fixture files by name pattern (at most 256 KiB each; the data
# stages' parquet files behind each stage byte), requests made of tests/fixtures/process/cases.json,
# answers of the label-spans and MLDR fixtures, a few split expressions, and fuzz/seeds/TARGET/
# (process_inputs draws a call from raw bytes and starts empty).
seed() {
    local target="$1" dir="$2"
    local n=0
    copy() { # find(1) arguments
        while IFS= read -r -d '' f; do
            n=$((n + 1))
            cp "$f" "$dir/$n-$(basename "$f")"
        done < <(find tests/fixtures data configs crates/config/tests -type f -size -256k "$@" -print0)
    }
    case "$target" in
        recipe_yaml) copy \( -path 'configs/*.yaml' -o -path 'crates/config/tests/*.yaml' \) -not -path '*/eval_datasets/*' ;;
        eval_datasets_yaml) copy -path 'configs/eval_datasets/*.yaml' ;;
        config_json) copy -name config.json ;;
        safetensors_model_dir) copy -name '*.safetensors' ;;
        tokenizer_json) copy -name tokenizer.json ;;
        parquet_rows) copy -name '*.parquet' ;;
        data_stages) # each parquet fixture of the data stages behind each stage byte
            while IFS= read -r -d '' f; do
                for stage in 0 1 2 3; do
                    n=$((n + 1))
                    { printf "\\x0$stage"; cat "$f"; } >"$dir/$n-$(basename "$f")"
                done
            done < <(find tests/fixtures/data_pipeline -type f -size -256k -name '*.parquet' -print0) ;;
        label_spans_inputs) # the dataset, the LLM's tokenizer_config.json, its tokenizer.json
            for f in tests/fixtures/data_pipeline/filter/input/data/*.parquet \
                tests/fixtures/datasets/bad/*/data/*.parquet \
                tests/fixtures/data_pipeline/label_spans/llm_tokenizer/tokenizer_config.json \
                tests/fixtures/data_pipeline/label_spans/llm_tokenizer/tokenizer.json; do
                case "$f" in *.parquet) stage=0 ;; *config.json) stage=1 ;; *) stage=2 ;; esac
                n=$((n + 1))
                { printf "\\x0$stage"; cat "$f"; } >"$dir/$n-$(basename "$f")"
            done ;;
        split_expr)
            for e in test 'train[:10%]+test[-5:]' 'train[10:20]' 'test[:1%](pct1_dropremainder)' \
                'test[-50%:](closest)' 'dev + test[:3]'; do
                n=$((n + 1))
                printf '%s' "$e" >"$dir/$n"
            done ;;
        llm_answers) python3 - "$dir" <<'EOF' ;;
import glob, json, sys
out = sys.argv[1]
seeds = []
for f in sorted(glob.glob("tests/fixtures/data_pipeline/label_spans/*/requests.jsonl")):
    for line in open(f):
        r = json.loads(line)
        seeds.append(bytes([2 * r["user_content"].count("\n[")]) + r["canned_answer"].encode())
for line in open("tests/fixtures/mldr/judge_requests.jsonl"):
    content = json.loads(line)["content"]
    if isinstance(content, str):
        seeds.append(b"\x01" + content.encode())
for i, s in enumerate(dict.fromkeys(seeds)):
    open(f"{out}/{i}", "wb").write(s)
EOF
        jsonl_input | serve_bodies) python3 - "$target" "$dir" <<'EOF' ;;
import json, sys
target, out = sys.argv[1], sys.argv[2]
for i, case in enumerate(json.load(open("tests/fixtures/process/cases.json"))):
    q, c = case["question"], case["context"]
    if target == "jsonl_input":
        seeds = [json.dumps({"question": q, "context": c})] if isinstance(q, str) else []
    else:
        texts = [c] if isinstance(c, str) else c
        seeds = ["\x01" + json.dumps({"question": q, "context": c, **case.get("options", {})})]
        if isinstance(q, str) and all(isinstance(t, str) for t in texts):
            seeds.append("\x00" + json.dumps({"query": q, "texts": texts, "return_text": True}))
    for j, s in enumerate(seeds):
        open(f"{out}/{i}-{j}", "w").write(s)
EOF
    esac
    if [ -d "fuzz/seeds/$target" ]; then
        cp fuzz/seeds/"$target"/* "$dir"/
    fi
}

printf '%-24s %8s %12s %8s %9s\n' target seconds executions corpus findings
for target in "${targets[@]}"; do
    corpus="$work/corpus/$target" seeds="$work/seeds/$target" artifacts="$work/artifacts/$target/"
    rm -rf "$seeds" "$artifacts" "$work/tmp/$target"
    mkdir -p "$corpus" "$seeds" "$artifacts" "$work/tmp/$target" "$work/logs"
    seed "$target" "$seeds"
    log="$work/logs/$target.log"
    start=$(date +%s)
    # libFuzzer's own clock stops the run; `timeout` only guards against a harness that hangs
    # outside an input.
    TMPDIR="$work/tmp/$target" timeout $((seconds + 120)) "$bin_dir/$target" "$corpus" "$seeds" \
        -max_total_time="$seconds" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" -malloc_limit_mb="$rss_mb" \
        -artifact_prefix="$artifacts" -print_final_stats=1 -close_fd_mask=1 >"$log" 2>&1 || true
    elapsed=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    findings=$(find "$artifacts" -type f | wc -l)
    printf '%-24s %8s %12s %8s %9s\n' "$target" "$elapsed" "${execs:-?}" "$(find "$corpus" -type f | wc -l)" "$findings"
    find "$artifacts" -type f -printf '    finding: %p\n'
    rm -rf "$work/tmp/$target"
done
