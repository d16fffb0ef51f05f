#!/usr/bin/env bash
# The prepared GPU check, sized for one device call: the CUDA smoke tests, then every type trained a
# few hundred steps with and without --amp and evaluated, the training step's images/s and peak
# memory (bench_train.py), and one batch's loss on the CPU against CUDA (gpu_check.py).
#
#   bash benchmarks/gpu_check.sh "$OUT"                 # on a CUDA machine, from the repo root
#   GPU_CHECK_TYPES="vox mesh" GPU_CHECK_AMP=amp GPU_CHECK_STEPS=100 bash benchmarks/gpu_check.sh "$OUT"   # a rerun
#   GPU_CHECK_DEVICE=cpu GPU_CHECK_STEPS=4 GPU_CHECK_BENCH_STEPS=2 bash benchmarks/gpu_check.sh /tmp/dry   # CPU dry run
# Environment: GPU_CHECK_TYPES, GPU_CHECK_AMP, GPU_CHECK_PROFILES (gpu gpu_fast: before and after; vox
# trained at both for the same epochs, every type benched at both), GPU_CHECK_STEPS (a training's limit grows with it),
# GPU_CHECK_BENCH_STEPS, GPU_CHECK_MODELS, GPU_CHECK_BUDGET, GPU_CHECK_DEVICE (cpu: the dry run),
# GPU_CHECK_KEEP=1 (keep the data and the runs' checkpoints in /tmp).
#
# It ends within GPU_CHECK_BUDGET seconds (default 540) of wall time, whatever happens: every
# stage runs under `timeout`, and gpu_check.py starts no sub-run the budget cannot hold. Its
# stages and their limits (how they were sized: docs/training.md, "The GPU check"):
#   unpack PyTorch3D 60 s, imports 60 s, smoke tests 120 s, data 120 s, runs what is left.
# OUT receives two files: summary.txt (every figure, and each stage's seconds) and
# gpu_check.tar.gz (every log, each evaluation's metrics.json, summary.txt).
# For a machine whose image has torch but no PyTorch3D and no network (the lent GPU machines): run
# `bash ../shared/gpu/pack-pytorch3d.sh` here first and carry .gpu/; this script unpacks it.
# Without an NVIDIA GPU it exits at once (status 3) with one line.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-output/gpu_check}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
TYPES=${GPU_CHECK_TYPES:-vox point mesh occupancy voxmesh}
PROFILES=${GPU_CHECK_PROFILES:-gpu gpu_fast}   # before, after: each type's images/s and MFU at both
AMP=${GPU_CHECK_AMP:-amp no-amp}
STEPS=${GPU_CHECK_STEPS:-200}
BENCH_STEPS=${GPU_CHECK_BENCH_STEPS:-15}
MODELS=${GPU_CHECK_MODELS:-200}
BUDGET=${GPU_CHECK_BUDGET:-540}
T0=$(date +%s)
if [ "$DEVICE" = cuda ] && ! nvidia-smi -L >/dev/null 2>&1 \
  && ! python3 -c "import sys, torch; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
  echo "gpu_check: no CUDA GPU here (neither nvidia-smi nor torch finds one): nothing run (GPU_CHECK_DEVICE=cpu: the CPU dry run)"
  exit 3
fi
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/gpu_check.XXXXXX)
mkdir -p "$WORK/logs"
SUMMARY=$WORK/summary.txt
STATUS=0
elapsed() { echo $(( $(date +%s) - T0 )); }
say() { echo "$*" | tee -a "$SUMMARY"; }
finish() {
  say "gpu_check: $(elapsed) s in all (budget $BUDGET s), status $STATUS"
  cp "$SUMMARY" "$OUT/summary.txt"
  # Each evaluation's metrics and per-sample scores, not its copy of plotly.js (4.8 MB each).
  tar -czf "$OUT/gpu_check.tar.gz" -C "$WORK" --exclude=plotly.min.js --exclude=index.html --exclude=samples.json \
    logs summary.txt $(cd "$WORK" && ls -d eval 2>/dev/null)
  # The data and the runs' checkpoints (1-2 GB) go, unless GPU_CHECK_KEEP=1 keeps them.
  [ "${GPU_CHECK_KEEP:-0}" = 1 ] && echo "kept $WORK (data, runs)" || rm -rf "$WORK"
}
trap finish EXIT
# stage NAME LIMIT CMD...: the command under `timeout`, its output in logs/NAME.log; its seconds,
# or its exit status and last lines, in the summary. Returns the command's status.
stage() {
  local name=$1 limit=$2 start status
  shift 2
  start=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$WORK/logs/$name.log" 2>&1
  status=$?
  if [ "$status" -eq 0 ]; then
    say "stage $name: $(( $(date +%s) - start )) s (limit $limit s)"
  else
    STATUS=1
    say "FAILED stage $name (exit $status$([ "$status" -eq 124 ] && echo ": past its limit of $limit s"), after $(( $(date +%s) - start )) s); its last lines:"
    tail -12 "$WORK/logs/$name.log" | tr '\r' '\n' | tail -12 | sed 's/^/    /' | tee -a "$SUMMARY"
  fi
  return "$status"
}
say "gpu_check on $(hostname): device $DEVICE, types $TYPES, profiles $PROFILES, amp $AMP, $STEPS steps, $MODELS models, budget $BUDGET s"
if ! python3 -c "import pytorch3d" 2>/dev/null && [ -f .gpu/pytorch3d-cp312.tar.xz ]; then
  mkdir -p /tmp/site
  stage unpack 60 tar -xJf .gpu/pytorch3d-cp312.tar.xz -C /tmp/site || exit
  export PYTHONPATH=/tmp/site:$PWD
fi
# The imports the runs make, not only the packages' names: PyTorch3D's compiled ops, its io and
# R2N2 readers (iopath needs portalocker, pytorch3d.datasets tabulate) and the scripts themselves.
# plotly is not among them: without it the evaluation pages use the committed plotly.min.js.
stage imports 60 python3 - "$DEVICE" <<'PY' || exit
import importlib, sys, torch
cuda = torch.cuda.is_available()
print(f"torch {torch.__version__}, CUDA {cuda} ({torch.cuda.get_device_name(0) if cuda else '-'})")
missing = []
for name in ("pytorch3d._C", "pytorch3d.io", "pytorch3d.datasets", "portalocker", "tabulate", "numpy", "imageio",
             "tqdm", "matplotlib", "tensorboard", "cv2", "train_model", "eval_model"):
    try:
        importlib.import_module(name)
    except Exception as err:  # noqa: BLE001 - every failure is reported, then the check stops
        missing.append(f"{name} ({type(err).__name__}: {err})")
print("cannot import: " + ("; ".join(missing) if missing else "nothing"))
if (sys.argv[1] == "cuda" and not cuda) or missing:
    raise SystemExit("gpu_check needs CUDA and every import above")
PY
grep -h "^torch" "$WORK/logs/imports.log" | tee -a "$SUMMARY"
# The CUDA smoke tests (skipped on the CPU): PyTorch3D's kernels forward and backward in bf16 and
# float32, and one training step of each type.
stage smoke 120 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_precision.py
grep -E "passed|failed|skipped" "$WORK/logs/smoke.log" | tail -1 | sed 's/^/    /' | tee -a "$SUMMARY"
# A small embedded dataset, generated on the machine's cores.
stage data 120 python3 make_dataset.py --root "$WORK/data" --n_models "$MODELS" || exit
left=$(( BUDGET - $(elapsed) - 20 ))
if [ "$left" -lt 30 ]; then
  say "SKIPPED stage runs: $left s of the budget left"
  exit 1
fi
# gpu_check.py gets an absolute deadline: its own start-up (imports) counts against it.
# shellcheck disable=SC2086 # the lists split into words on purpose
stage runs $(( left + 15 )) python3 -m benchmarks.gpu_check --work "$WORK" --data "$WORK/data" --device "$DEVICE" \
  --types $TYPES --amp $AMP --profiles $PROFILES --steps "$STEPS" --bench_steps "$BENCH_STEPS" \
  --deadline $(( $(date +%s) + left ))
# gpu_check.py writes its lines into the same summary as it goes; a failure inside it is there too.
grep -q "^FAILED\|^SKIPPED" "$SUMMARY" && STATUS=1
exit "$STATUS"
