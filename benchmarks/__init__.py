"""Measurements that are not tests, run from the repo root as modules (python -m benchmarks.<name>).

bench_train.py       the training step's time per type (CPU or GPU), from the real loader and in memory
bench_loader.py      the data loader alone
gpu_check.py/.sh     the GPU check: CUDA smoke tests, every type trained, timed and evaluated, in one device call
paired.py            paired differences between evaluations of the same samples (how designs are chosen)
candidate.sh         one vox design candidate trained and scored on the choice group and val
design_study.sh      every candidate at once on a lent GPU
photo_like.py        checkpoints scored on photo-like images; photo_figure.py draws them
framing.py           how the training renderings frame objects (what photo preparation copies)
occupancy_ceiling.py the occupancy metrics' ceiling from exact labels
"""
