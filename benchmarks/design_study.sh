#!/usr/bin/env bash
# The vox design study of docs/generalisation.md, every candidate at the CPU
# profile's default budget (450 steps, batch 32, 128 px), all at once on one machine: made for a
# lent GPU (they share it, each with two CPU threads), where the whole study takes a few minutes;
# on a 2-core CPU run benchmarks/candidate.sh one candidate at a time instead (about 35 min each).
#   bash benchmarks/design_study.sh OUT                       # on a CUDA machine, from the repo root
#   DESIGN_DEVICE=cpu DESIGN_STEPS=2 DESIGN_MODELS=60 bash benchmarks/design_study.sh /tmp/dry   # dry run
# The data roots are generated first (data/holdout: the choice group cantilever + folding_x in the
# split heldout, the report group in heldout_report, never looked at here; data/holdout_asm: the
# same plus 300 random assemblies in train). Each candidate is then scored on every view of the
# choice group and of val, as candidate.sh does. OUT receives summary.txt and design.tar.gz (each
# evaluation's metrics.json and per_sample.csv, each run's log); compare with benchmarks/paired.py.
# Environment: DESIGN_DEVICE (cuda), DESIGN_STEPS (the profile's), DESIGN_MODELS (1000),
# DESIGN_BUDGET (seconds, 420): every stage runs under `timeout` inside it.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-output/design_study}
DEVICE=${DESIGN_DEVICE:-cuda}
MODELS=${DESIGN_MODELS:-1000}
BUDGET=${DESIGN_BUDGET:-420}
STEPS=${DESIGN_STEPS:+--max_iter $DESIGN_STEPS}
T0=$(date +%s)
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/design.XXXXXX)
mkdir -p "$WORK/logs"
SUMMARY=$WORK/summary.txt
say() { echo "$*" | tee -a "$SUMMARY"; }
left() { echo $(( BUDGET - $(date +%s) + T0 )); }
finish() {
  say "design_study: $(( $(date +%s) - T0 )) s in all (budget $BUDGET s)"
  cp "$SUMMARY" "$OUT/summary.txt"
  tar -czf "$OUT/design.tar.gz" --exclude=plotly.min.js --exclude=index.html --exclude=samples.json \
    --exclude='*.png' --exclude='*.gif' -C "$WORK" logs summary.txt $(cd "$WORK" && ls -d eval 2>/dev/null)
  [ "${DESIGN_KEEP:-0}" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap finish EXIT
if ! python3 -c "import pytorch3d" 2>/dev/null && [ -f .gpu/pytorch3d-cp312.tar.xz ]; then
  mkdir -p /tmp/site && tar -xJf .gpu/pytorch3d-cp312.tar.xz -C /tmp/site
  export PYTHONPATH=/tmp/site:$PWD
fi
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
# The candidates: name, data root, train_model.py flags.
CANDIDATES=(
  "base|holdout|"
  "pix|holdout|--pixel_aligned"
  "sil|holdout|--w_silhouette 1"
  "pixsil|holdout|--pixel_aligned --w_silhouette 1"
  "asm|holdout_asm|"
  "pixasm|holdout_asm|--pixel_aligned"
)
HOLDOUT="--holdout cantilever folding_x --holdout_report rocking trestle chaise --n_models $MODELS --workers 8"
say "design_study on $(hostname): device $DEVICE, $MODELS models, budget $BUDGET s"
start=$(date +%s)
timeout "$(left)" python3 make_dataset.py --root "$WORK/holdout" $HOLDOUT >"$WORK/logs/data_holdout.log" 2>&1 &
timeout "$(left)" python3 make_dataset.py --root "$WORK/holdout_asm" $HOLDOUT --assemblies $(( MODELS * 3 / 10 )) \
  >"$WORK/logs/data_holdout_asm.log" 2>&1 &
wait
say "data: $(( $(date +%s) - start )) s"
start=$(date +%s)
for c in "${CANDIDATES[@]}"; do
  IFS='|' read -r name data flags <<<"$c"
  # shellcheck disable=SC2086
  timeout "$(( $(left) - 60 ))" python3 train_model.py --type vox --profile cpu --device "$DEVICE" --num_workers 2 $STEPS \
    --data_root "$WORK/$data" --out_dir "$WORK/runs/$name" $flags >"$WORK/logs/train_$name.log" 2>&1 &
done
wait
say "train: $(( $(date +%s) - start )) s"
for c in "${CANDIDATES[@]}"; do
  IFS='|' read -r name data flags <<<"$c"
  say "  $name: $(grep -o '[0-9.]* s/step' "$WORK/logs/train_$name.log" | tail -1), $(tail -1 "$WORK/logs/train_$name.log" | cut -c1-160)"
done
start=$(date +%s)
for c in "${CANDIDATES[@]}"; do
  IFS='|' read -r name data flags <<<"$c"
  cameras="known"
  [[ $flags == *pixel_aligned* ]] && cameras="known predicted"
  for split in heldout val; do
    for camera in $cameras; do
      timeout "$(( $(left) - 10 ))" python3 eval_model.py --type vox --checkpoint "$WORK/runs/$name/checkpoint_vox.pth" \
        --data_root "$WORK/$data" --split "$split" --views all --no_baseline --no_frame_check --camera "$camera" \
        --vis_ids --results_dir "$WORK/eval" --tag "${name}_${split}_$camera" --device "$DEVICE" \
        >"$WORK/logs/eval_${name}_${split}_$camera.log" 2>&1 &
    done
  done
done
wait
say "eval: $(( $(date +%s) - start )) s"
for f in "$WORK"/eval/*/metrics.json; do
  python3 - "$f" <<'PY' | tee -a "$SUMMARY"
import json, pathlib, sys
m = json.load(open(sys.argv[1]))["model"]
print(f"  {pathlib.Path(sys.argv[1]).parent.name[:60]:60s} F1@0.05 {m.get('F1@0.05', float('nan')):.1f} "
      f"IoU {m.get('IoU_vox32', float('nan')):.3f} thin {m.get('thin_recall', float('nan')):.3f} "
      f"sil {m.get('sil_iou', float('nan')):.3f} / GT {m.get('sil_iou_gt', float('nan')):.3f}")
PY
done
