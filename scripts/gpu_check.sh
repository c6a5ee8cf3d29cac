#!/usr/bin/env bash
# The GPU check (docs/gpu.md), one script, under ten minutes on one data-centre GPU:
#   1. setup: the README's install, unless the project's packages are already importable
#      (SKIP_SETUP=1 never installs: machines without a network);
#   2. scripts/gpu_check.py: fake datasets of the real formats and sizes (EuroSAT JPEG
#      folders, MNIST idx files, SPRITES NumPy files), the `paper` preset timed on CUDA
#      with and without mixed precision, and the Inception FID cost on the GPU;
#   3. `mlflow run . -e adaptive` with the `paper` preset on the EuroSAT-format folder,
#      on CUDA with amp (skipped when mlflow is not installed);
#   4. scripts/bench_speed.py --device cuda (skipped without mlflow or mlxtend);
#   5. the model tests, CUDA ones included;
#   6. scripts/gpu_path_check.py: two forked workers on one GPU, a CPU-written checkpoint
#      resumed on CUDA with amp, NVML's gpu_time_s, the 200-epoch full-MNIST paper run
#      against its 120 s goal, and how the workers spread over several GPUs.
# Results: $OUT (default gpu-check/): gpu_check.md (every table, the one results file),
# gpu_check.json and gpu_path_check.json (the raw numbers), logs.
# DRY_RUN=1: everything on the CPU with small sizes and few epochs (what it does, not
# what it measures), for machines without a GPU.
# Usage: scripts/gpu_check.sh            PYTHON=python3 OUT=out SKIP_SETUP=1 scripts/gpu_check.sh
#        DRY_RUN=1 SKIP_SETUP=1 scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

PY=${PYTHON:-python}
OUT=${OUT:-gpu-check}
EPOCHS=${EPOCHS:-3}
DRY_RUN=${DRY_RUN:-0}
if [ "$DRY_RUN" = 1 ]; then
  DEVICE=cpu; EPOCHS=2; SMALL=(--device cpu --scale 0.01 --inception-samples 3); DRY=(--dry-run)
else
  DEVICE=cuda; SMALL=(); DRY=()
fi
mkdir -p "$OUT"
export MLFLOW_DISABLE_TELEMETRY=true
# a fresh domain-CNN cache: the timings include training the FID feature extractor
export ALD_BENCHMARK_CACHE=${ALD_BENCHMARK_CACHE:-$(mktemp -d)}
DATA=$(mktemp -d)
status=0
step() { echo; echo "=== $* ($(date +%T))"; }

step "1. setup"
if ! "$PY" -c "import benchmark, pytorch_fid, sklearn, yaml, pynvml" 2>/dev/null; then
  if [ "${SKIP_SETUP:-0}" = 1 ]; then
    echo "the project is not importable and SKIP_SETUP=1: set PYTHONPATH" >&2
    exit 1
  fi
  # the gpu extra: NVML, so that the check exercises gpu_time_s
  "$PY" -m pip install -e ".[test,gpu]" || { echo "setup failed" >&2; exit 1; }
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
  'gpu', torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)"

step "2. paper preset on real-format data, timed; Inception FID cost"
"$PY" scripts/gpu_check.py --out "$OUT" --data-root "$DATA" --epochs "$EPOCHS" "${SMALL[@]}" \
  2>&1 | tee "$OUT/gpu_check.log" || status=1

step "3. mlflow run, paper preset, eurosat format, cuda, amp"
if "$PY" -c "import mlflow" 2>/dev/null; then
  (cd "$OUT" && MLFLOW_TRACKING_URI="sqlite:///$PWD/mlflow.db" "$PY" -m mlflow run "$REPO" \
    -e adaptive --env-manager local -P preset=paper -P dataset=eurosat \
    -P data_dir="$DATA" -P epochs=2 -P device="$DEVICE" -P amp=true) 2>&1 \
    | tail -5 | tee "$OUT/mlflow_run.log" || status=1
else
  echo "skipped: mlflow is not installed" | tee "$OUT/mlflow_run.log"
fi

step "4. speed script on cuda"
if "$PY" -c "import mlflow, mlxtend" 2>/dev/null; then
  "$PY" scripts/bench_speed.py --device "$DEVICE" --rounds "$([ "$DRY_RUN" = 1 ] && echo 1 || echo 3)" 2>&1 | tail -8 \
    | tee "$OUT/bench_speed.log" || status=1
else
  echo "skipped: needs mlflow and mlxtend (the README's install)" | tee "$OUT/bench_speed.log"
fi

step "5. model tests (CUDA ones included)"
"$PY" -m pytest -q -p no:cacheprovider tests/test_conv_models.py 2>&1 | tail -3 \
  | tee "$OUT/tests.log" || status=1

step "6. the GPU path: forked workers, CPU checkpoint on CUDA with amp, NVML, full-MNIST paper"
"$PY" scripts/gpu_path_check.py --out "$OUT" --device "$DEVICE" "${DRY[@]}" 2>&1 \
  | tail -12 | tee "$OUT/gpu_path.log" || status=1
cat "$OUT/gpu_path_check.md" >> "$OUT/gpu_check.md" 2>/dev/null

rm -rf "$DATA"
step "done (status $status)"
cat "$OUT/gpu_check.md" 2>/dev/null
exit "$status"
