"""A training run of `train_model.py`, in the order it happens.

config.py       the run's settings as typed configs (what train_model.py's flags become)
checkpoints.py  run folders, reading a checkpoint back safely, the folder's lock
resume.py       resuming: the run's flags back or refused, its data and world size checked
sampler.py      the resumable batch sampler, batches prepared ahead in a thread
augment.py      image augmentation that keeps the geometry right
trainer.py      the loop in named steps: train_step, fit, checkpoints, the run's record
validation.py   the fixed val subset scored while training
monitor.py      log lines and TensorBoard
"""
