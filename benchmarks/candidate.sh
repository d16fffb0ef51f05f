#!/usr/bin/env bash
# One design candidate of the vox model (docs/generalisation.md), trained and scored as the design
# study scores every candidate: on the held-out data root (the choice and report families out of
# training), at the default budget, then on every view of the choice group (split heldout) and of
# the val split. Never the test split, never the report group.
#   bash benchmarks/candidate.sh NAME [train_model.py flags...]
#   DATA=data/holdout_asm bash benchmarks/candidate.sh asm      # another data root (its train split differs)
# Results: checkpoints/design/NAME/, output/eval/design_NAME_{heldout,val}/ (compare with benchmarks/paired.py).
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=$1
shift
DATA=${DATA:-data/holdout}
OUT=checkpoints/design/$NAME
python3 train_model.py --type vox --data_root "$DATA" --out_dir "$OUT" --overwrite "$@"
for split in heldout val; do
  python3 eval_model.py --type vox --checkpoint "$OUT/checkpoint_vox.pth" --data_root "$DATA" --split "$split" \
    --views all --no_baseline --no_frame_check --vis_ids 0 40 80 120 --results_dir output/eval/design \
    --tag "${NAME}_$split"
done
