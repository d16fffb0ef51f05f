"""Finding the data: the layouts of a data root, detected, and where each shape's files are."""

import os

from dataset_location import detect_layout


def test_both_layouts_are_detected(tiny_root, archives_root):
    course = detect_layout(tiny_root)
    assert (course.kind, course.surfaces, course.voxel_placement) == (
        "course",
        "mesh",
        "centred",
    )  # embedded: exact grids
    assert course.splits and course.renderings.endswith(os.path.join("r2n2", "ShapeNetRendering"))
    archives = detect_layout(archives_root)
    assert (archives.kind, archives.surfaces, archives.voxel_placement) == ("archives", "voxels", "centred")
    assert archives.splits is None and archives.voxels.endswith("ShapeNetVox32") and archives.meshes is None


def test_real_data_with_meshes_is_bbox_aligned(archives_copy):
    os.makedirs(os.path.join(archives_copy, "ShapeNetCore.v1"))
    layout = detect_layout(archives_copy)
    assert (layout.surfaces, layout.voxel_placement) == ("mesh", "bbox")


def test_the_embedded_size_is_the_dataset_specs_default(monkeypatch):
    """dataset_location cannot import procedural (which imports it), so it writes the number again:
    pinned here to DatasetSpec's, the one place the dataset's defaults live."""
    import importlib

    import dataset_location
    from procedural.spec import DatasetSpec

    monkeypatch.delenv("R2N2_EMBEDDED_MODELS", raising=False)
    assert importlib.reload(dataset_location).EMBEDDED_MODELS == DatasetSpec.n_models
