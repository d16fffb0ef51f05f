#!/usr/bin/env bash
# Reproduce every result in the README on the embedded dataset, at the documented CPU budgets:
# train and evaluate all four types, the oracle, the comparison plot, the mesh study and the
# interpretation figures. It retrains every type (--overwrite: the runs in checkpoints/<type>/
# are replaced). Results land in output/results/ (small files, committed) and output/eval,
# output/study, output/interpretation (full outputs).
#   bash reproduce.sh                  # about an hour on a 2-core CPU
#   EXTRA="--device cuda" bash reproduce.sh   # extra train_model.py flags
set -euo pipefail
cd "$(dirname "$0")"
EXTRA=${EXTRA:-}
start=$(date +%s)
[ -d data/embedded ] || python3 make_dataset.py   # the embedded dataset (about 1.5 min), unless it exists
for t in vox point mesh occupancy; do
  python3 train_model.py --type "$t" --overwrite $EXTRA   # retrains: replaces checkpoints/<type>/
  python3 eval_model.py --type "$t" --load_checkpoint --vis_ids 0 20 40 60 80
done
python3 eval_model.py --type vox --oracle --vis_ids 0 20
python3 eval_model.py --compare output/eval/vox output/eval/point output/eval/mesh output/eval/occupancy --compare_out output/eval/compare_f1.png
python3 study_mesh.py --max_iter 200
python3 -c "
import nbformat
from nbclient import NotebookClient
nb = nbformat.read('interpret_vis.ipynb', as_version=4)
NotebookClient(nb, timeout=1200, kernel_name='python3', resources={'metadata': {'path': '.'}}).execute()
nbformat.write(nb, 'output/interpretation/interpret_vis.executed.ipynb')
"
python3 collect_results.py --seconds $(( $(date +%s) - start ))
