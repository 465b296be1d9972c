#!/usr/bin/env bash
# Everything that needs a GPU, in one go, in under ten minutes: run it as soon as a GPU machine
# is available, from the repository root, in the project's environment:
#
#     bash benchmarks/gpu_check.sh [OUTPUT_FILE]      # default: gpu_check-<date>.log
#
# 1. the CUDA tests (the tests that skip without a GPU, and the device and precision tests);
# 2. mixed precision, bf16 and fp16, a few training steps and a sample of every installed model;
# 3. with two GPUs or more: the multi-process tests (DDP, FSDP, resume, two nodes) on NCCL;
# 4. the speed benchmarks on the GPU: the seed models against the hand-written loops, and
#    1 process against 2 (flat averaging, DDP, FSDP; NCCL with 2+ GPUs).
#
# Every step runs even when an earlier one failed; the summary at the end lists each step's
# exit status, and the script exits with the first failure's status. All output also goes to
# OUTPUT_FILE. GENZOO_DATA (or ../shared/data) gives the benchmarks MNIST; without it they use
# what the test suite generates.
set -u -o pipefail

cd "$(dirname "$0")/.."
OUT="${1:-gpu_check-$(date -u +%Y%m%dT%H%M%SZ).log}"
PYTHON="${PYTHON:-python}"
exec > >(tee -a "$OUT") 2>&1

declare -a SUMMARY=()
FIRST_FAILURE=0

step() {  # step NAME TIMEOUT_S COMMAND...: run it, time it, remember its status
    local name="$1" limit="$2"
    shift 2
    echo
    echo "=== $name ($(date -u +%H:%M:%S), at most ${limit} s)"
    local started=$SECONDS
    timeout --kill-after=10 "$limit" "$@"
    local status=$?
    SUMMARY+=("$(printf '%-44s exit %3d  %4d s' "$name" "$status" $((SECONDS - started)))")
    if [[ $status -ne 0 && $FIRST_FAILURE -eq 0 ]]; then
        FIRST_FAILURE=$status
    fi
}

echo "genzoo GPU check, $(date -u), output in $OUT"
"$PYTHON" - <<'EOF' || { echo "no usable CUDA device: nothing to check"; exit 2; }
import torch
assert torch.cuda.is_available(), "torch.cuda.is_available() is False"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"{torch.cuda.device_count()} GPU(s): "
      + ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
      + f"; bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}")
EOF
GPUS=$("$PYTHON" -c "import torch; print(torch.cuda.device_count())")
DATA="${GENZOO_DATA:-$(cd .. && pwd)/shared/data}"

step "CUDA tests (pytest -m cuda)" 120 \
    "$PYTHON" -m pytest -q -p no:cacheprovider -m cuda tests/runner tests/data

step "device and precision tests" 60 \
    "$PYTHON" -m pytest -q -p no:cacheprovider tests/runner/test_device_precision.py

step "AMP bf16 and fp16, every model" 150 \
    "$PYTHON" benchmarks/amp_check.py --device cuda --precisions bf16,16 --steps 3

if [[ "$GPUS" -ge 2 ]]; then
    step "DDP and FSDP on NCCL (2 GPUs)" 240 \
        env GENZOO_TEST_DISTRIBUTED_DEVICE=cuda "$PYTHON" -m pytest -q -p no:cacheprovider \
        tests/runner/test_distributed.py
else
    echo
    echo "=== DDP and FSDP on NCCL: skipped, $GPUS GPU (NCCL needs a GPU per process)"
    SUMMARY+=("DDP and FSDP on NCCL                         skipped (1 GPU)")
fi

BENCH_DATA=()
if [[ -f "$DATA/MNIST/raw/train-images-idx3-ubyte" || -f "$DATA/MNIST/raw/train-images-idx3-ubyte.gz" ]]; then
    BENCH_DATA=(--data-root "$DATA")
    step "speed: genzoo against hand-written loops" 150 \
        "$PYTHON" benchmarks/run.py --device cuda --repeat 1 "${BENCH_DATA[@]}" \
        --json "${OUT%.log}-speed.json"
else
    echo
    echo "=== speed: genzoo against hand-written loops: skipped, no MNIST at $DATA (set GENZOO_DATA)"
    SUMMARY+=("speed: genzoo against hand-written loops     skipped (no MNIST)")
fi

step "speed: 1 process and 2 (flat, DDP, FSDP)" 150 \
    "$PYTHON" benchmarks/parallel.py --device cuda --images 16384 --epochs 2 \
    --json "${OUT%.log}-parallel.json"

echo
echo "=== summary ($(date -u +%H:%M:%S))"
printf '%s\n' "${SUMMARY[@]}"
exit "$FIRST_FAILURE"
