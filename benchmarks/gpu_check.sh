#!/usr/bin/env bash
# The prepared GPU check: every type trained a few hundred steps with and without --amp on CUDA and
# evaluated, its images/s and peak memory, and one batch's loss on the CPU against CUDA.
#
#   bash benchmarks/gpu_check.sh [OUT]         # on a CUDA machine, from the repo root; about 6-8 minutes
#
# For a machine whose image has torch but no PyTorch3D and no network (the lent GPU machines): run
# `bash ../shared/gpu/pack-pytorch3d.sh` here first and carry .gpu/; this script unpacks it. It needs
# the runtime packages of requirements.txt besides; the first thing it prints is any that is missing.
# Data: a small embedded dataset generated on the machine (R2N2_EMBEDDED_MODELS, default 300).
# Results: OUT (default output/gpu_check) holds gpu_check.txt, the summary, and each run's metrics.json.
# A failed run does not stop the check: its last lines are printed, its full log kept in OUT/logs.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-output/gpu_check}
STEPS=${STEPS:-200}
mkdir -p "$OUT/logs"
if ! python3 -c "import pytorch3d" 2>/dev/null && [ -f .gpu/pytorch3d-cp312.tar.xz ]; then
  mkdir -p /tmp/site && tar -xJf .gpu/pytorch3d-cp312.tar.xz -C /tmp/site
  export PYTHONPATH=/tmp/site:$PWD
fi
# The imports the runs make, not only the packages' names: PyTorch3D's compiled ops, its io and
# R2N2 readers (iopath needs portalocker, pytorch3d.datasets tabulate) and the scripts themselves.
python3 - <<'PY' || exit 1
import importlib, torch
print(f"torch {torch.__version__}, CUDA {torch.cuda.is_available()} ({torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-'})")
missing = []
for name in ("pytorch3d._C", "pytorch3d.io", "pytorch3d.datasets", "portalocker", "tabulate", "numpy", "imageio", "tqdm",
             "matplotlib", "tensorboard", "cv2", "plotly", "train_model", "eval_model"):
    try:
        importlib.import_module(name)
    except Exception as err:  # noqa: BLE001 - every failure is reported, then the check stops
        missing.append(f"{name} ({type(err).__name__}: {err})")
print("cannot import: " + ("; ".join(missing) if missing else "nothing"))
if not torch.cuda.is_available() or missing:
    raise SystemExit("gpu_check needs CUDA and every import above")
PY
export R2N2_EMBEDDED_ROOT=${R2N2_EMBEDDED_ROOT:-/tmp/gpu_check_data}
export R2N2_EMBEDDED_MODELS=${R2N2_EMBEDDED_MODELS:-300}
rm -f "$OUT/failed"
if [ ! -d "$R2N2_EMBEDDED_ROOT" ]; then
  # A failed generation leaves no half-written data behind for the next call to trust.
  python3 make_dataset.py --root "$R2N2_EMBEDDED_ROOT" --n_models "$R2N2_EMBEDDED_MODELS" >"$OUT/logs/data.log" 2>&1 \
    || { tail -20 "$OUT/logs/data.log"; rm -rf "$R2N2_EMBEDDED_ROOT"; exit 1; }
  tail -1 "$OUT/logs/data.log"
fi
RUNS=/tmp/gpu_check_runs

# run NAME CMD...: the command's summary lines, or, when it fails, its exit status and last 20 lines.
run() {
  local name=$1 pattern=$2 keep=${KEEP:-3}
  shift 2
  if "$@" >"$OUT/logs/$name.log" 2>&1; then
    grep -E "$pattern" "$OUT/logs/$name.log" | tail -"$keep" || true
  else
    echo "FAILED $name (exit $?), its last lines ($OUT/logs/$name.log):"
    tail -20 "$OUT/logs/$name.log"
    touch "$OUT/failed"  # a file, not a variable: the runs are in subshells (the pipes to tee)
  fi
}

for amp in no-amp amp; do
  for t in vox point mesh occupancy voxmesh; do
    init=()
    [ "$t" = voxmesh ] && init=(--init "$RUNS/vox_$amp/checkpoint_vox.pth")
    start=$(date +%s.%N)
    run "train_${t}_$amp" "^(step|val|done)" python3 train_model.py --type "$t" --device cuda --max_iter "$STEPS" \
      --"$amp" --out_dir "$RUNS/${t}_$amp" --overwrite --val_freq 100 --log_freq 100 "${init[@]}"
    echo "train $t --$amp: $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s wall, $STEPS steps"
    run "eval_${t}_$amp" "^model|samples in" python3 eval_model.py --type "$t" --checkpoint \
      "$RUNS/${t}_$amp/checkpoint_$t.pth" --device cuda --no_baseline --vis_ids --tag "gpu_$amp" --results_dir "$OUT/eval"
  done
done 2>&1 | tee "$OUT/gpu_check.txt"
# Images/s, peak memory and GFLOP of each type's step at the gpu profile, with and without bf16 autocast.
for amp in no-amp amp; do
  KEEP=40 run "bench_$amp" "." python3 benchmarks/bench_train.py --device cuda --"$amp" --types vox point mesh occupancy voxmesh \
    --steps 20
done 2>&1 | tee -a "$OUT/gpu_check.txt"
# One fixed batch's loss on the CPU and on CUDA, per type (float32, and CUDA under --amp).
KEEP=40 run losses "." python3 benchmarks/gpu_check.py 2>&1 | tee -a "$OUT/gpu_check.txt"
# The exit status says whether every run succeeded (each failure is printed above).
if [ -e "$OUT/failed" ]; then
  echo "gpu_check: some runs failed (see FAILED above and $OUT/logs)"
  exit 1
fi
