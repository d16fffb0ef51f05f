"""Scoring predictions against the ground truth, and what an evaluation writes.

metrics.py    F1, Chamfer, voxel and label IoU, normal consistency, thin_recall, Mesh R-CNN's F1
protocol.py   predictions of every type turned into samples and scored; baselines; frame scores
reports.py    metrics.json, per_sample.csv, galleries, GIFs, the run's page
viewer.py     interactive offline HTML pages of 3D shapes (plotly)
"""
