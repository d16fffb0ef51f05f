"""Scripts over runs and results, run from the repo root.

reproduce.sh        every number of the README and docs/results.md, from scratch
collect_results.py  reproduce.sh's results gathered into output/results/ and docs/results.md
compare_runs.py     several evaluations' F1 curves and predictions side by side
study_mesh.py       the mesh model at several loss weights
"""
