#!/usr/bin/env bash
# The GPU check (docs/gpu.md), one script and one command within GPU_CHECK_BUDGET_S
# seconds (default 540 on a GPU: one run fits a 10-minute command limit with room to
# spare; 1800 in the dry run):
#   1. setup: the README's install with the gpu extra, unless the project's packages are
#      already importable (SKIP_SETUP=1 never installs: machines without a network);
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
# The budget: each step is told what is left and may take what is left less what the
# later steps need at least (NEED below); a step that would not fit is recorded as
# "not run: budget", one that runs out of its share is stopped (SIGINT, then SIGKILL
# 30 s later) and recorded as "stopped: budget", never skipped in silence.
# Results: $OUT (default gpu-check/): gpu_check.md (every table and the steps with their
# seconds: the one results file), gpu_check.json and gpu_path_check.json (raw numbers),
# logs. Exit: 0 all passed, 1 a step failed, 3 none failed but the budget cut one.
# DRY_RUN=1: everything on the CPU with small sizes and few epochs (what it does, not
# what it measures), for machines without a GPU; it needs no NVML.
# Usage: scripts/gpu_check.sh            PYTHON=python3 OUT=out SKIP_SETUP=1 scripts/gpu_check.sh
#        DRY_RUN=1 SKIP_SETUP=1 scripts/gpu_check.sh
#        GPU_CHECK_BUDGET_S=900 scripts/gpu_check.sh      # where the command may run longer
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

PY=${PYTHON:-python}
OUT=${OUT:-gpu-check}
EPOCHS=${EPOCHS:-3}
DRY_RUN=${DRY_RUN:-0}
# the dry run is not under a device's command limit, and a loaded 2-core CPU is slow
BUDGET=${GPU_CHECK_BUDGET_S:-$([ "$DRY_RUN" = 1 ] && echo 1800 || echo 540)}
if [ "$DRY_RUN" = 1 ]; then
  # scale 0.015: at 0.01 SPRITES' validation split holds 9 clips of 9 actions, too few
  # for a silhouette score; the speed script on digits, one round of one epoch
  DEVICE=cpu; EPOCHS=2; SMALL=(--device cpu --scale 0.015 --inception-samples 3); DRY=(--dry-run)
  SPEED=(--dataset digits --epochs-per-round 1 --rounds 1)
  # the least seconds steps 1-6 need to be worth starting, about half of what each took
  # on this project's shared 2-core CPU machine (docs/gpu.md: 321, 34, 137, 13, 244 s)
  NEED=(0 0 150 20 60 10 120)
else
  DEVICE=cuda; SMALL=(); DRY=(); SPEED=(--rounds 3)
  # estimates from the 2026-11-26 H200 epoch times, not measured: step 2 writes 27,000
  # JPEGs and trains six runs; step 6 runs a 3-trial search, a resume and a 200-epoch run
  NEED=(0 0 120 45 45 30 240)
fi
mkdir -p "$OUT"
# one run's results only: an old table must not pass for this run's
rm -f "$OUT/gpu_check.md" "$OUT/gpu_path_check.md" "$OUT/gpu_check.json" \
  "$OUT/gpu_path_check.json" "$OUT/gpu_path_check.log"
export MLFLOW_DISABLE_TELEMETRY=true
# a fresh domain-CNN cache: the timings include training the FID feature extractor
OWN_CACHE=""
if [ -z "${ALD_BENCHMARK_CACHE:-}" ]; then
  OWN_CACHE=$(mktemp -d)
  export ALD_BENCHMARK_CACHE=$OWN_CACHE
fi
DATA=$(mktemp -d)
# the fake datasets are GiBs at full size: removed on any exit, a failed step's included
cleanup() { rm -rf "$DATA" ${OWN_CACHE:+"$OWN_CACHE"}; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
STEPS="$OUT/steps.tsv"
: > "$STEPS"
status=0
incomplete=0
CAP=0
STEP_START=$SECONDS

# what is left of the budget less what the steps after step $1 need at least
cap() {
  local later=0 i
  for ((i = $1 + 1; i <= 6; i++)); do later=$((later + NEED[i])); done
  echo $((BUDGET - SECONDS - later))
}
# record N TITLE RESULT: one row of the steps table, with the step's seconds
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$((SECONDS - STEP_START))" >> "$STEPS"; }
# begin N TITLE: the header, with what is left; false (recorded) when the step won't fit
begin() {
  local n=$1
  shift
  CAP=$(cap "$n")
  STEP_START=$SECONDS
  echo
  echo "=== $n. $* ($(date +%T); $((BUDGET - SECONDS)) s of the $BUDGET s budget left," \
    "$CAP s for this step)"
  if [ "$n" -gt 1 ] && [ "$CAP" -lt "${NEED[n]}" ]; then
    echo "not run: budget ($CAP s left for it, it needs about ${NEED[n]} s)"
    record "$n" "$*" "not run: budget ($CAP s left for it, needs about ${NEED[n]} s)"
    incomplete=1
    return 1
  fi
}
# finish N TITLE EXIT_CODE: the step's result from the exit code of `timeout CMD`
finish() {
  case $3 in
    0) record "$1" "$2" passed ;;
    124 | 137) record "$1" "$2" "stopped: budget ($CAP s)"; incomplete=1 ;;
    3) record "$1" "$2" "incomplete: budget (its table says which check)"; incomplete=1 ;;
    *) record "$1" "$2" "failed (exit $3)"; status=1 ;;
  esac
}
# a step's command, stopped when its share of the budget is spent (SIGINT: the runs end
# as KILLED, like a user's Ctrl-C; SIGKILL 30 s later)
limited() { timeout --signal=INT --kill-after=30 "$CAP" "$@"; }
# the modules of $@ that do not import, each with why, "" when all do
not_importable() {
  "$PY" - "$@" <<'EOF'
import importlib, sys
bad = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as exc:
        bad.append(f"{name} ({type(exc).__name__}: {exc})")
print("; ".join(bad))
EOF
}

T1="setup"
begin 1 "$T1"
missing=$(not_importable benchmark pytorch_fid sklearn yaml)
nvml=$(not_importable pynvml)
# NVML only reads a GPU: the dry run needs none
if [ -n "$missing" ] || { [ "$DRY_RUN" != 1 ] && [ -n "$nvml" ]; }; then
  if [ "${SKIP_SETUP:-0}" = 1 ] && [ -n "$missing" ]; then
    echo "error: $PY cannot import: $missing; SKIP_SETUP=1, so nothing is installed:" \
      "run with the project's environment (PYTHON=.venv/bin/python) or install it" \
      "(pip install -e '.[test,gpu]')" >&2
    record 1 "$T1" "failed: cannot import $missing"
    exit 1
  elif [ "${SKIP_SETUP:-0}" = 1 ]; then
    echo "warning: $nvml: no run logs gpu_time_s and step 6's NVML check fails;" \
      "pip install nvidia-ml-py" >&2
  else
    # the gpu extra: NVML, so that the check exercises gpu_time_s
    "$PY" -m pip install -e ".[test,gpu]" || {
      echo "setup failed" >&2
      record 1 "$T1" "failed: pip install -e '.[test,gpu]'"
      exit 1
    }
    nvml=$(not_importable pynvml)
  fi
fi
if [ -n "$nvml" ]; then
  echo "NVML: not importable ($nvml)$([ "$DRY_RUN" = 1 ] && echo "; not needed in the dry run")"
fi
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
else
  echo "nvidia-smi: not on PATH"
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
  'gpu', torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)"
record 1 "$T1" "passed${nvml:+ (without NVML)}"

T2="paper preset on real-format data, timed; Inception FID cost"
if begin 2 "$T2"; then
  limited "$PY" scripts/gpu_check.py --out "$OUT" --data-root "$DATA" --epochs "$EPOCHS" \
    "${SMALL[@]}" 2>&1 | tee "$OUT/gpu_check.log"
  finish 2 "$T2" "$?"
fi

T3="mlflow run, paper preset, eurosat format, $DEVICE, amp"
if begin 3 "$T3"; then
  if ! "$PY" -c "import mlflow" 2>/dev/null; then
    echo "skipped: mlflow is not installed" | tee "$OUT/mlflow_run.log"
    record 3 "$T3" "skipped: mlflow is not installed"
  elif [ ! -d "$DATA/eurosat" ]; then
    echo "not run: step 2 wrote no EuroSAT folder" | tee "$OUT/mlflow_run.log"
    record 3 "$T3" "not run: step 2 wrote no EuroSAT folder"
    incomplete=1
  else
    (cd "$OUT" && export MLFLOW_TRACKING_URI="sqlite:///$PWD/mlflow.db" \
      && limited "$PY" -m mlflow run "$REPO" -e adaptive --env-manager local -P preset=paper -P dataset=eurosat \
      -P data_dir="$DATA" -P epochs=2 -P device="$DEVICE" -P amp=true) 2>&1 \
      | tail -5 | tee "$OUT/mlflow_run.log"
    finish 3 "$T3" "$?"
  fi
fi

T4="speed script on $DEVICE"
if begin 4 "$T4"; then
  if "$PY" -c "import mlflow, mlxtend" 2>/dev/null; then
    limited "$PY" scripts/bench_speed.py --device "$DEVICE" "${SPEED[@]}" 2>&1 | tail -8 \
      | tee "$OUT/bench_speed.log"
    finish 4 "$T4" "$?"
  else
    echo "skipped: needs mlflow and mlxtend (the README's install)" | tee "$OUT/bench_speed.log"
    record 4 "$T4" "skipped: needs mlflow and mlxtend"
  fi
fi

T5="model tests (CUDA ones included)"
if begin 5 "$T5"; then
  limited "$PY" -m pytest -q -p no:cacheprovider tests/test_conv_models.py tests/test_cuda_path.py \
    2>&1 | tail -3 | tee "$OUT/tests.log"
  finish 5 "$T5" "$?"
fi

T6="the GPU path: forked workers, CPU checkpoint on CUDA with amp, NVML, full-MNIST paper"
if begin 6 "$T6"; then
  # the checks' own budget leaves room for a last stopped run's 30 s to end cleanly
  limited "$PY" scripts/gpu_path_check.py --out "$OUT" --device "$DEVICE" "${DRY[@]}" \
    --budget-s "$((CAP - 40))" 2>&1 | tee "$OUT/gpu_path.log"
  finish 6 "$T6" "$?"
  cat "$OUT/gpu_path_check.md" >> "$OUT/gpu_check.md" 2>/dev/null
fi

{
  echo
  echo "## The steps (${DEVICE}$([ "$DRY_RUN" = 1 ] && echo ", dry run"); budget $BUDGET s, took $SECONDS s)"
  echo
  echo "| step | result | seconds |"
  echo "|---|---|---|"
  while IFS=$'\t' read -r n title result secs; do
    echo "| $n. $title | $result | $secs |"
  done < "$STEPS"
} >> "$OUT/gpu_check.md"
[ "$status" = 0 ] && [ "$incomplete" = 1 ] && status=3
echo
echo "=== done (status $status, $SECONDS s of the $BUDGET s budget)"
cat "$OUT/gpu_check.md"
exit "$status"
