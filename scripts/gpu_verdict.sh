#!/usr/bin/env bash
# The verdict protocol on a GPU machine: full MNIST and full Fashion-MNIST, the `paper`
# preset, seeds 1-3, ALD-VAE with its retrain, the whole grid over the preset's nine
# sizes, halving, and the rivals (hyperband, active units, ARD, the ordered VAE), on
# CUDA, the searches with WORKERS local workers sharing the GPU (docs/gpu.md).
# Resumable like scripts/verdict.py: run it again after a stop and it goes on from what
# measurements/verdict-<dataset>-gpu/ and results/ hold.
# Needs the raw files (no download on such machines): DATA_DIR/MNIST/raw/ and
# DATA_DIR/FashionMNIST/raw/ in torchvision's layout (docs/datasets.md).
# Writes: results/verdict-mnist-gpu/, results/verdict-fashion-mnist-gpu/ (commit them),
# reports/verdict-mnist-gpu.pdf, reports/verdict-fashion-mnist-gpu.pdf.
# Usage: DATA_DIR=measurements/data scripts/gpu_verdict.sh
#        SEEDS=1 PHASES=core DATASETS=mnist scripts/gpu_verdict.sh   # a first seed only
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python}
DATA_DIR=${DATA_DIR:-measurements/data}
DATASETS=${DATASETS:-mnist fashion-mnist}
SEEDS=${SEEDS:-1,2,3}
PHASES=${PHASES:-core,rivals}
WORKERS=${WORKERS:-9}
DEVICE=${DEVICE:-cuda}
# more scripts/verdict.py arguments, e.g. a dry run on a CPU:
#   DEVICE=cpu WORKERS=1 EXTRA="--set epochs=1 --set latent_sizes=4,8 --methods adaptive,grid"
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"
export MLFLOW_DISABLE_TELEMETRY=true

for ds in $DATASETS; do
  folder=$([ "$ds" = mnist ] && echo MNIST || echo FashionMNIST)
  if ! compgen -G "$DATA_DIR/$folder/raw/train-images-idx3-ubyte*" >/dev/null; then
    echo "error: $DATA_DIR/$folder/raw/ holds no train-images-idx3-ubyte; put the four" \
      "$ds files there (docs/datasets.md) or set DATA_DIR" >&2
    exit 2
  fi
done
for ds in $DATASETS; do
  echo "=== verdict on $ds, seeds $SEEDS, phases $PHASES, $DEVICE, $WORKERS workers ($(date +%T))"
  "$PY" scripts/verdict.py --dataset "$ds" --data_dir "$DATA_DIR" --seeds "$SEEDS" \
    --phases "$PHASES" --device "$DEVICE" --workers "$WORKERS" --threads 2 --tag gpu \
    "${EXTRA_ARGS[@]}"
done
