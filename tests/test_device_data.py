"""The train split held on the device: its batches are the loader's, item for item."""

import torch

from dataset import R2N2Dataset, collate_batch
from training.device_data import DeviceLoader, cache_bytes, fits_on_device
from training.sampler import StepBatchSampler


def test_device_batches_are_the_loaders(tiny_root):
    dataset = R2N2Dataset(tiny_root, "train", n_points=None, return_meshes=False, return_occupancy=True, quiet=True)
    sampler = StepBatchSampler(len(dataset), 4, seed=3, start_step=0, max_iter=3)
    loader = DeviceLoader(dataset, sampler, torch.device("cpu"), with_occupancy=True)
    assert len(loader) == 3 and fits_on_device(dataset, torch.device("cpu"), True) and cache_bytes(dataset, True) > 0
    for indices, batch in zip(sampler, loader):
        expected = collate_batch(dataset.__getitems__(indices))
        assert set(batch) == set(expected) - {"synset", "model_id"}  # training reads neither string
        for key, value in batch.items():
            assert torch.equal(value, expected[key]), key
    dataset.n_points = 50  # each item's own window of the surface samples
    expected = dataset.__getitems__([0, 3, 5])
    batch = loader.batch([0, 3, 5])
    assert torch.equal(batch["points"], expected["points"]) and torch.equal(batch["normals"], expected["normals"])
