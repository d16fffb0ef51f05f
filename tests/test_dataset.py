import json
import os
import shutil

import numpy as np
import pytest
import torch

from dataset import DatasetError, R2N2Dataset, batch_to_device, collate_batch
from procedural.shape_files import write_binvox


@pytest.fixture()
def copy_root(tiny_root, tmp_path):
    """A private copy of the tiny dataset, for tests that damage files."""
    root = str(tmp_path / "copy")
    shutil.copytree(tiny_root, root, ignore=shutil.ignore_patterns(".cache"))
    return root


def first_model(root, split="train"):
    splits = json.load(open(os.path.join(root, "splits.json")))
    synset, models = sorted(splits[split].items())[0]
    return synset, sorted(models)[0]


def test_item_contents_and_shapes(tiny_root):
    ds = R2N2Dataset(tiny_root, "train", n_points=100, quiet=True)
    assert len(ds) == 2 * len(ds.entries)
    item = ds[1]
    assert item["images"].shape == (137, 137, 3) and item["images"].dtype == torch.float32
    assert 0.0 <= item["images"].min() and item["images"].max() <= 1.0
    assert item["voxels"].shape == (32, 32, 32) and set(item["voxels"].unique().tolist()) <= {0.0, 1.0}
    assert item["points"].shape == (100, 3) and item["points"].abs().max() <= 0.5 + 1e-4
    assert item["R"].shape == (3, 3) and item["T"].shape == (3,) and item["K"].shape == (4, 4)
    assert item["view"] == 1 and item["model_id"] == ds.entries[0].model_id
    # The mesh is normalised like ShapeNet v1: bounding box centred, diagonal 1.
    lo, hi = item["verts"].min(0).values, item["verts"].max(0).values
    torch.testing.assert_close((lo + hi) / 2, torch.zeros(3), atol=1e-5, rtol=0)
    assert (hi - lo).norm().item() == pytest.approx(1.0, abs=1e-4)


def test_cache_equals_raw_files(tiny_root):
    cached = R2N2Dataset(tiny_root, "test", n_points=50, quiet=True)
    raw = R2N2Dataset(tiny_root, "test", n_points=50, use_cache=False, quiet=True)
    for i in range(len(cached)):
        a, b = cached[i], raw[i]
        for key in ("images", "masks", "voxels", "R", "T", "K", "verts", "faces", "points"):
            torch.testing.assert_close(a[key], b[key], msg=key)


def test_batches_from_loader(tiny_root):
    ds = R2N2Dataset(tiny_root, "train", n_points=64, return_meshes=False, quiet=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=3, collate_fn=collate_batch)
    batch = batch_to_device(next(iter(loader)), "cpu")
    assert batch["images"].shape == (3, 137, 137, 3) and batch["images"].dtype == torch.float32
    assert batch["voxels"].shape == (3, 32, 32, 32) and batch["points"].shape == (3, 64, 3)
    assert "verts" not in batch and len(batch["model_id"]) == 3


def test_cache_rebuilds_when_a_source_file_changes(copy_root):
    ds = R2N2Dataset(copy_root, "test", quiet=True)
    synset, model = first_model(copy_root, "test")
    index = [e.model_id for e in ds.entries].index(model)
    binvox = os.path.join(copy_root, "r2n2", "ShapeNetVoxels", synset, model, "model.binvox")
    empty = np.zeros((32, 32, 32), bool)
    empty[0, 0, 0] = True
    write_binvox(binvox, empty)
    os.utime(binvox, ns=(1, 1))  # a different mtime even on coarse clocks
    ds2 = R2N2Dataset(copy_root, "test", quiet=True)
    assert ds2[2 * index]["voxels"].sum() == 1
    caches = [n for n in os.listdir(os.path.join(copy_root, ".cache")) if n.endswith(".pt")]
    assert len(caches) == 1  # the stale cache is gone (its mark too)
    assert sorted(os.listdir(os.path.join(copy_root, ".cache"))) == sorted([caches[0], caches[0] + ".sv3d-written"])


@pytest.mark.parametrize("kind", ["png", "binvox", "obj"])
def test_corrupt_file_is_reported_with_its_path(copy_root, kind):
    synset, model = first_model(copy_root)
    path = {
        "png": os.path.join(copy_root, "r2n2", "ShapeNetRendering", synset, model, "rendering", "00.png"),
        "binvox": os.path.join(copy_root, "r2n2", "ShapeNetVoxels", synset, model, "model.binvox"),
        "obj": os.path.join(copy_root, "shapenet", synset, model, "model.obj"),
    }[kind]
    with open(path, "wb") as f:
        f.write(b"\x89garbage\nnot a file\n" if kind != "obj" else b"v 1 2\nf 1 2 9\n")
    with pytest.raises(DatasetError, match=path.replace("\\", "\\\\")):
        R2N2Dataset(copy_root, "train", quiet=True)


def test_missing_root_and_missing_models(copy_root, tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        R2N2Dataset(str(tmp_path / "nowhere"), "train")
    splits_path = os.path.join(copy_root, "splits.json")
    splits = json.load(open(splits_path))
    synset = next(iter(splits["train"]))
    splits["train"][synset]["0" * 32] = [0]
    json.dump(splits, open(splits_path, "w"))
    with pytest.raises(DatasetError, match="missing file"):
        R2N2Dataset(copy_root, "train")
    with pytest.raises(DatasetError, match="split 'trian'"):
        R2N2Dataset(copy_root, "trian")


def test_real_data_with_meshes_reports_how_far_the_placements_disagree(tiny_root, tmp_path, capsys):
    """Without embedded.json the course layout is read as real data: voxels aligned to the OBJ's
    bounding box (Mesh R-CNN), and the line says how well R2N2's centred grid agrees."""
    root = str(tmp_path / "real")
    shutil.copytree(tiny_root, root, ignore=shutil.ignore_patterns(".cache", "embedded.json"))
    rename_models_as_real(root)
    ds = R2N2Dataset(root, "test", views="first")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "voxels: bbox-aligned to the OBJs (the centred grid agrees at IoU" in line and "surfaces: OBJ meshes" in line
    agreement = ds.cache["placement_iou"]
    assert (
        torch.isfinite(agreement).all() and (agreement > 0.3).all() and (agreement < 1).any()
    )  # measured: 0.48, 1.0, 0.72


def rename_models_as_real(root: str) -> None:
    """Give a generated course-layout root's models ids that are not the generator's (as real
    ShapeNet ids are not), in every folder and in splits.json."""
    import hashlib

    def real_id(model_id: str) -> str:
        return hashlib.md5(f"real-{model_id}".encode()).hexdigest()

    for top in ("r2n2/ShapeNetRendering", "r2n2/ShapeNetVoxels", "shapenet"):
        for synset in os.listdir(os.path.join(root, top)):
            for model_id in os.listdir(os.path.join(root, top, synset)):
                os.rename(os.path.join(root, top, synset, model_id), os.path.join(root, top, synset, real_id(model_id)))
    path = os.path.join(root, "splits.json")
    splits = json.load(open(path))
    renamed = {
        name: {synset: {real_id(m): v for m, v in models.items()} for synset, models in part.items()}
        for name, part in splits.items()
    }
    with open(path, "w") as f:
        json.dump(renamed, f)


def set_generator_version(path: str, version: int) -> None:
    with open(path) as f:
        info = json.load(f)
    info["generator_version"] = version
    with open(path, "w") as f:
        json.dump(info, f)


def test_data_of_another_generator_version_is_refused(copy_root, archives_root, tmp_path):
    """Data written before the generator changed (version 3: the grammar's frame, not ShapeNet's)
    is refused in one line saying how to regenerate it, in both layouts."""
    set_generator_version(os.path.join(copy_root, "embedded.json"), 3)
    with pytest.raises(
        DatasetError,
        match=r"written by version 3 of the procedural generator, this code reads version 4.*make_dataset.py --root",
    ):
        R2N2Dataset(copy_root, "train", quiet=True)
    archives = str(tmp_path / "archives")
    shutil.copytree(archives_root, archives, ignore=shutil.ignore_patterns(".cache"))
    assert os.path.isfile(os.path.join(archives, ".embedded.json"))  # the archives layout says it too, hidden
    set_generator_version(os.path.join(archives, ".embedded.json"), 3)
    with pytest.raises(DatasetError, match="--layout archives"):
        R2N2Dataset(archives, "all", quiet=True)


def test_a_stale_default_root_is_refused_not_regenerated_in_place(copy_root, monkeypatch):
    """The default root written by another generator version is another world: opening it is
    refused, naming the command that replaces it (`make_dataset.py --replace_stale`), and nothing
    in it is moved or deleted."""
    import procedural
    from procedural import default_data

    set_generator_version(os.path.join(copy_root, "embedded.json"), 3)
    monkeypatch.setattr(default_data, "generated_worlds", lambda: {os.path.abspath(copy_root): 6})
    monkeypatch.setattr(default_data, "DATA_ROOT", copy_root)
    before = sorted(os.listdir(copy_root))
    with pytest.raises(DatasetError, match="generator version 3.*not regenerated in place.*--replace_stale"):
        R2N2Dataset(None, "train", quiet=True)
    assert sorted(set(os.listdir(copy_root)) - {".cache"}) == before  # the readers' cache folder aside
    assert procedural.GENERATOR_VERSION != 3


def test_generated_archives_without_a_record_are_not_read_as_real_data(archives_root, tmp_path):
    """Generator versions up to 3 wrote the archives layout without .embedded.json: their model
    ids (the generator's) give them away, and they are refused, not read as R2N2's own data."""
    old = str(tmp_path / "old")
    shutil.copytree(archives_root, old, ignore=shutil.ignore_patterns(".cache", ".embedded.json"))
    with pytest.raises(DatasetError, match="shapes of this project's procedural generator but no record"):
        R2N2Dataset(old, "all", quiet=True)
    real = str(tmp_path / "real")  # the same files under ids that are not the generator's read as real data
    shutil.copytree(old, real)
    for synset in os.listdir(os.path.join(real, "ShapeNetRendering")):
        for k, model in enumerate(sorted(os.listdir(os.path.join(real, "ShapeNetRendering", synset)))):
            for top in ("ShapeNetRendering", "ShapeNetVox32"):
                os.rename(os.path.join(real, top, synset, model), os.path.join(real, top, synset, f"real{k:04d}"))
    assert R2N2Dataset(real, "all", quiet=True).layout.generator is None


def test_two_processes_generating_the_default_root_at_once_both_succeed(copy_root, tmp_path, monkeypatch):
    """The second writer finds the first one's dataset in place (the final rename fails with
    ENOTEMPTY or the request with FileExistsError) and uses it instead of crashing."""
    from procedural import default_data

    root = str(tmp_path / "default")

    def other_process_won(root_, n_models):
        shutil.copytree(copy_root, root_)  # the other process's dataset lands first
        raise OSError(39, "Directory not empty")

    monkeypatch.setattr(default_data, "EMBEDDED_DATA_ROOT", root)
    monkeypatch.setattr(default_data, "DATA_ROOT", root)
    monkeypatch.setattr(default_data, "EMBEDDED_MODELS", 9)
    monkeypatch.setitem(default_data.DEFAULT_WORLD, "n_views", 2)  # the tiny dataset's, as the default world
    monkeypatch.setattr(default_data, "write_dataset", other_process_won)
    assert len(R2N2Dataset(None, "train", quiet=True).entries) == 6
