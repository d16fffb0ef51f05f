"""Evaluation protocol: any predictor's output turned into surface samples and scored against the GT.

    rows = evaluate(lambda batch: predict(model, batch, n_points=5000), loader, device="cpu")
    summary = average(rows)                              # {"F1@0.05": ..., "ChamferL2": ...}

Every prediction and the GT are compared in the object frame. Vox and occupancy predictions become
meshes by marching cubes at probability 0.5, mesh predictions are sampled, point predictions are
used as they are; `n_points` points are sampled from the prediction, and compared with as many
GT surface samples (exact ones where the data has pointcloud.npz, else samples of the OBJ or of
the voxel grid's surface for data without meshes: `R2N2Dataset.surfaces`);
precision / recall / F1 use nearest-neighbour distances both ways (`metrics.py`).
Baselines live here too: the mean training shape (`ConstantPredictor`) and the GT voxels pushed
through the vox path (`predict_gt_voxels`, the oracle).
"""

import numpy as np
import torch

from dataset import R2N2Dataset, batch_to_device, mean_occupancy
from evaluation.metrics import (
    DEFAULT_THRESHOLDS,
    F1_HEADLINE,
    chamfer_l2,
    compute_sampling_metrics,
    f1_key,
    label_iou,
    meshrcnn_metrics,
    nearest_neighbours,
    normal_consistency,
    points_to_cells,
    thin_recall,
    voxel_iou,
)
from evaluation.silhouette import mesh_silhouettes, point_silhouettes, silhouette_iou
from geometry.frames import FRAME_TRANSFORMS, frame_check, transform_points, transform_voxels
from geometry.grids import ISO, grid_at_points, keep_largest_parts, sample_meshes, voxels_to_meshes
from model import Prediction
from r2n2.formats import DatasetError
from representations import get as get_representation

FAR = 1e6  # object-frame units (a shape spans about 1): a coordinate beyond it scores the prediction as empty
FRAME_CHECK_POINTS = 1000  # points per side for the frame check's F1 (see `frame_scores`)
# A mesh's surface is sampled densely for thin_recall (the GT's own surface samples cover 0.95 of
# its rods at 5000 points, 0.81 at 2000); what covers the rods is each type's `thin_cover`.
THIN_COVER_POINTS = 20000

# What the GT surfaces are, as every table and figure says it.
GT_LABELS = {
    "samples": "exact surface samples (pointcloud.npz)",
    "mesh": "OBJ meshes",
    "voxels": "voxel surfaces (no OBJ: marching cubes of the 32^3 grids)",
}


def f1_curve(summary: dict, thresholds) -> list[float]:
    """The F1 values of a summary (`average`) at the thresholds, in order."""
    return [summary[f1_key(t)] for t in thresholds]


def mesh_prediction(meshes, voxels, n_points: int) -> dict:
    """A prediction given as surfaces, in evaluation form (see `evaluation_form`)."""
    points, normals, lengths = sample_meshes(meshes, n_points)
    return {"points": points, "normals": normals, "lengths": lengths, "voxels": voxels, "meshes": meshes}


def evaluation_form(prediction: Prediction, n_points: int, thin_cover: str, silhouette_ceiling: str = "mesh") -> dict:
    """What the metrics read of a `Prediction`: points (B, n, 3) sampled from its meshes (or its own
    points when it has no mesh), their lengths (B,) and normals (B, n, 3) (None for a cloud),
    voxels (B, 32, 32, 32) probabilities or None, the meshes or None, "occupancy_at" ((B, P, 3) ->
    (B, P) probabilities) where it has an occupancy function, and how it covers rods (`covered_cells`)."""
    voxels = prediction.probabilities
    if voxels is None and prediction.voxels is not None:
        voxels = torch.sigmoid(prediction.voxels.float())
    if prediction.meshes is not None:
        form = mesh_prediction(prediction.meshes, voxels, n_points)
    else:
        points = prediction.points.float()
        lengths = torch.full((len(points),), points.shape[1], device=points.device)
        form = {"points": points, "lengths": lengths, "normals": None, "voxels": voxels, "meshes": None}
    if prediction.occupancy_fn is not None:
        form["occupancy_at"] = lambda points: torch.sigmoid(prediction.occupancy_fn(points).float())
    return {**form, "thin_cover": thin_cover, "silhouette_ceiling": silhouette_ceiling}


# What a model is told of the input view's camera: "known", the data's metadata (R, T, K); "none",
# nothing, as a photo (a model that projects points then guesses what it needs: its camera head).
CAMERAS = ("known", "none")


def describe_camera(model, camera: str, camera_search: int = 0) -> str:
    """What a model under test was told of the camera and what it used, in words (every evaluation
    says it: metrics.json's camera_used, the printout)."""
    if model is None or getattr(model, "camera_head", None) is None:
        return "not read: the model reads no pixels where points project"
    if model.frame == "viewer":
        used = "the metadata's distance and intrinsics" if camera == "known" else "its own guess of the distance"
        return (
            f"viewer frame: {used}; scored after turning the prediction into the object frame with the "
            "metadata's rotation R (as Pix3D's protocol does)"
        )
    if camera == "known":
        return "the metadata's camera (R, T, K)"
    if camera_search:
        from representations.vox.camera_search import weighs_depth

        depth = " and its surface head's depth" if weighs_depth(model) else ""
        return (
            f"none given: the best of its camera head's {camera_search} likeliest azimuths by how its prediction fits "
            f"the image's own mask{depth} (elevation and distance its head's), R2N2's intrinsics"
        )
    return "none given: its camera head's guess (azimuth, elevation, distance), R2N2's intrinsics"


def to_object_frame(prediction: Prediction, R: torch.Tensor) -> Prediction:
    """A viewer-frame prediction (`geometry.view_frame`) turned into the object frame with the views'
    rotations R (B, 3, 3): meshes' vertices and points by R^T, the grid resampled (`voxels_to_object`,
    into `probabilities`). An object-frame prediction is returned as it is."""
    from geometry.view_frame import points_to_object, voxels_to_object

    if prediction.frame != "viewer":
        return prediction
    R = R.float()
    grid = prediction.probabilities
    if grid is None and prediction.voxels is not None:
        grid = torch.sigmoid(prediction.voxels.float())
    meshes = prediction.meshes
    if meshes is not None:
        meshes = meshes.update_padded(points_to_object(meshes.verts_padded(), R))
    return Prediction(
        points=points_to_object(prediction.points, R) if prediction.points is not None else None,
        meshes=meshes,
        probabilities=voxels_to_object(grid, R) if grid is not None else None,
        aux=prediction.aux,
        frame="object",
    )


def predict(
    model,
    batch: dict,
    n_points: int,
    grid_res: int,
    iso: float = ISO,
    camera: str = "known",
    clean: bool = False,
    camera_search: int = 0,
) -> dict:
    """A model's predictions of a batch in evaluation form (`evaluation_form`), as its type predicts
    for evaluation (`Representation.predict`), in the object frame. camera (`CAMERAS`): "known", the
    batch's cameras (renderings' metadata) are given to the model, or "none", no camera is (what a
    photo gets; a model that projects points guesses one with its camera head). A viewer-frame
    prediction is turned into the object frame with the batch's R either way (`to_object_frame`).
    clean: only each mesh's largest connected parts are scored (`geometry.grids.keep_largest_parts`).
    camera_search: with camera "none", the model may choose among its camera head's likeliest cameras
    by how its prediction fits the image's own mask (`representations.vox.camera_search`)."""
    if camera not in CAMERAS:
        raise ValueError(f"camera must be one of {CAMERAS}, got {camera!r}")
    representation = get_representation(model.type)
    cameras = (batch["R"], batch["T"], batch["K"]) if camera == "known" and batch.get("R") is not None else None
    masks = batch.get("masks") if camera == "none" else None  # the image's own mask, for a camera search
    prediction = representation.predict(
        model, batch["images"], grid_res, iso, cameras, batch.get("K"), masks, camera_search
    )
    if prediction.frame == "viewer":
        if batch.get("R") is None:
            raise DatasetError("a viewer-frame model is scored in the object frame: the data needs its views' cameras")
        prediction = to_object_frame(prediction, batch["R"])
    if clean and prediction.meshes is not None:
        prediction.meshes = keep_largest_parts(prediction.meshes)
    return evaluation_form(prediction, n_points, representation.thin_cover, representation.silhouette_ceiling)


def silhouettes(pred: dict, batch: dict) -> torch.Tensor:
    """(B, 137, 137) bool: what a prediction in evaluation form covers in the input view (its mesh,
    or its points as small disks), seen by the batch's cameras."""
    R, T, K = batch["R"], batch["T"], batch["K"]
    if pred.get("meshes") is not None:
        return mesh_silhouettes(pred["meshes"], R, T, K)
    return point_silhouettes(pred["points"], pred["lengths"], R, T, K)


def gt_silhouettes(ceiling: str, batch: dict, n_points: int) -> torch.Tensor:
    """(B, 137, 137) bool: the GT as the type represents it, seen by the batch's cameras, the ceiling
    of the type's sil_iou: "voxels", the marching-cubes surface of the GT grid; "mesh", the GT mesh
    (the grid's surface where the data has no OBJ); "points", n_points GT surface samples as disks."""
    from pytorch3d.structures import Meshes

    R, T, K = batch["R"], batch["T"], batch["K"]
    if ceiling == "points":
        points = batch["points"][:, :n_points]
        return point_silhouettes(points, torch.full((len(points),), points.shape[1]), R, T, K)
    if ceiling == "mesh" and batch.get("verts") is not None:
        return mesh_silhouettes(Meshes([v.float() for v in batch["verts"]], list(batch["faces"])), R, T, K)
    return mesh_silhouettes(voxels_to_meshes(batch["voxels"].float(), ISO), R, T, K)


def covered_cells(pred: dict, iso: float) -> torch.Tensor:
    """The 32^3 cells a prediction covers, for thin_recall: (B, 32, 32, 32) bool, [z, y, x]. Its
    voxels at `iso` ("volume"), the cells its surface points fall in ("surface": THIN_COVER_POINTS
    points sampled on its meshes, or its own points), or both (pred["thin_cover"], its type's)."""
    cover = pred.get("thin_cover", "surface" if pred["voxels"] is None else "volume")
    covered = None
    if cover in ("volume", "both"):
        covered = pred["voxels"] >= iso
    if cover in ("surface", "both"):
        points, lengths = pred["points"], pred["lengths"]
        if pred.get("meshes") is not None:
            points, dense_lengths = dense_surface_points(pred["meshes"])
            lengths = torch.where(lengths > 0, dense_lengths, 0)  # an empty or non-finite prediction covers nothing
        surface = points_to_cells(points, lengths)
        covered = surface if covered is None else covered | surface
    return covered


def dense_surface_points(meshes) -> tuple[torch.Tensor, torch.Tensor]:
    """THIN_COVER_POINTS points on each mesh ((B, n, 3), lengths (B,)), drawn from a generator
    of their own: the caller's random stream, which draws the evaluation's samples, is left as
    it was."""
    devices = [meshes.device] if meshes.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(0)  # the CPU's, and the meshes' GPU's only
        if devices:
            with torch.cuda.device(meshes.device):
                torch.cuda.manual_seed(0)
        points, _, lengths = sample_meshes(meshes, THIN_COVER_POINTS)
    return points, lengths


class ConstantPredictor:
    """The mean training shape, predicted for every image as a type predicts: its marching-cubes
    mesh (or a cloud sampled on it, for a type that predicts points), beside its grid where the
    type has a volume."""

    def __init__(self, model_type: str, mean_voxels: torch.Tensor, n_points: int, seed: int):
        self.representation = get_representation(model_type)
        self.mean_voxels = mean_voxels  # (32, 32, 32) probabilities
        mesh = voxels_to_meshes(mean_voxels[None], ISO)
        self.mesh_verts, self.mesh_faces = mesh.verts_list()[0], mesh.faces_list()[0]
        with torch.random.fork_rng(devices=[]):  # the caller's random stream is left as it was
            torch.manual_seed(seed)
            self.points = sample_meshes(mesh, n_points)[0][0]

    def predict(self, batch: dict, n_points: int) -> dict:
        from pytorch3d.structures import Meshes

        B = len(batch["images"])
        device = batch["images"].device
        representation = self.representation
        prediction = Prediction()
        if representation.surface == "points":
            prediction.points = self.points.to(device).expand(B, -1, -1)
        else:
            prediction.meshes = Meshes([self.mesh_verts.to(device)] * B, [self.mesh_faces.to(device)] * B)
        if representation.has_volume:
            prediction.probabilities = self.mean_voxels.to(device).expand(B, -1, -1, -1)
        return evaluation_form(prediction, n_points, representation.thin_cover, representation.silhouette_ceiling)


@torch.no_grad()
def fixed_subset(n_total: int, n: int) -> torch.Tensor:
    """n indices of range(n_total) (all when n_total <= n), the same on every call: drawn from a
    generator of their own, so the caller's random stream is untouched."""
    if n_total <= n:
        return torch.arange(n_total)
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(0))[:n]


def frame_scores(pred: dict, batch: dict, iso: float) -> dict[str, torch.Tensor]:
    """Per-sample scores of a batch's predictions under each frame transform (`frames.py`):
    "IoU/<name>" where the prediction has voxels (as measured on real chairs), else
    "F1@0.05/<name>". (B,) each.

    Voxel IoU is a comparison of two grids per transform, a few ms a sample. F1 is taken on a fixed
    random subset of FRAME_CHECK_POINTS points of each side, so its 8 nearest-neighbour queries
    cost a fraction of the evaluation's own one (a point decoder's output order is not random, so
    the subset is drawn, not a prefix); types with voxels skip it, as it would be most of the cost."""
    if pred["voxels"] is not None:
        voxels_pred, voxels_gt = pred["voxels"] >= iso, batch["voxels"] >= ISO
        return {
            f"IoU/{name}": voxel_iou(transform_voxels(voxels_pred, matrix), voxels_gt)
            for name, matrix in FRAME_TRANSFORMS.items()
        }
    scores = {}
    device = batch["points"].device
    points_gt = batch["points"][:, fixed_subset(batch["points"].shape[1], FRAME_CHECK_POINTS).to(device)]
    # A prediction's points are all valid or none (`lengths` is 0 or N), so a subset keeps that.
    points_pred = pred["points"][:, fixed_subset(pred["points"].shape[1], FRAME_CHECK_POINTS).to(device)]
    lengths = pred["lengths"].clamp(max=FRAME_CHECK_POINTS)
    for name, matrix in FRAME_TRANSFORMS.items():
        points = transform_points(points_pred, matrix)
        dists_pred, _, dists_gt, _ = nearest_neighbours(points, points_gt, lengths)
        f1 = compute_sampling_metrics(points, points_gt, (0.05,), lengths, neighbours=(dists_pred, dists_gt))
        scores[f"{F1_HEADLINE}/{name}"] = f1[F1_HEADLINE]
    return scores


def summarize_frame_check(frame_rows: list[dict]) -> dict:
    """`frames.frame_check` of the per-sample frame scores `evaluate` collected: on voxel IoU
    where the type has voxels (as measured on real chairs), else on F1@0.05."""
    reports = {}
    for metric in ("IoU", F1_HEADLINE):
        scores = {
            key.split("/", 1)[1]: torch.tensor([row[key] for row in frame_rows])
            for key in frame_rows[0]
            if key.startswith(metric + "/")
        }
        if scores:
            reports[metric] = frame_check(scores, metric)
    return {"decided_on": "IoU" if "IoU" in reports else F1_HEADLINE, **reports}


def longest_edges(batch: dict) -> torch.Tensor:
    """The longest edge of each GT's bounding box (B,): of the GT mesh when the batch has it (as
    Mesh R-CNN measures it), else of the GT surface samples."""
    if batch.get("verts") is not None:
        return torch.stack([(v.max(0).values - v.min(0).values).max() for v in batch["verts"]])
    points = batch["points"]
    return (points.max(1).values - points.min(1).values).max(1).values


def labels_iou(pred: dict, batch: dict, iso: float) -> torch.Tensor | None:
    """IoU (B,) against the exact occupancy labels of the uniform half of points.npz, read the
    same way for every type: the occupancy function at the points, or a voxel grid (the vox
    prediction, voxmesh's voxel branch, the mean shape, the oracle's GT voxels) read trilinearly
    there, both at `iso`. None without labels (R2N2's own data has none) or without a volume."""
    occ_points = batch.get("occ_points")
    if occ_points is None or occ_points.shape[1] == 0 or (pred["voxels"] is None and "occupancy_at" not in pred):
        return None
    n_uniform = occ_points.shape[1] // 2  # points.npz: the uniform queries first, then the near-surface ones
    points, labels = occ_points[:, :n_uniform].float(), batch["occ_labels"][:, :n_uniform].bool()
    inside = pred["occupancy_at"](points) if "occupancy_at" in pred else grid_at_points(pred["voxels"], points)
    return label_iou(inside >= iso, labels)


@torch.no_grad()
def evaluate(
    predict_fn, loader, device, thresholds=DEFAULT_THRESHOLDS, iso: float = ISO, frame_rows: list | None = None
) -> list[dict]:
    """Per-sample metrics of a predictor over the loader; predict_fn(batch) -> prediction dict.

    The GT points and normals are the batch's (the dataset's cached surface samples: n_points
    of them when the dataset was opened with n_points). One nearest-neighbour query each way per
    batch serves F1, Chamfer and normal consistency. Returns one dict per sample: ids, "F1@<t>" (`metrics.metric_key`)
    (and Precision, Recall) per threshold, ChamferL2, and IoU_vox32 / NormalConsistency where the
    prediction has voxels / normals (IoU of the voxels >= iso against the GT's). A list given as
    `frame_rows` receives each sample's `frame_scores` (the frame check)."""
    rows = []
    for batch in loader:
        batch = batch_to_device(batch, device)
        pred = predict_fn(batch)
        points_gt, normals_gt = batch["points"], batch["normals"]
        # A prediction with a non-finite coordinate (a diverged model), or one so far off that its squared
        # distance would overflow float32 in the neighbour search (`FAR`), is scored as an empty one.
        finite = (torch.isfinite(pred["points"]) & (pred["points"].abs() < FAR)).flatten(1).all(1)
        lengths = torch.where(finite, pred["lengths"], torch.zeros_like(pred["lengths"]))
        dists_pred, idx_pred, dists_gt, idx_gt = nearest_neighbours(pred["points"], points_gt, lengths)
        metrics = compute_sampling_metrics(pred["points"], points_gt, thresholds, lengths, (dists_pred, dists_gt))
        metrics["ChamferL2"] = chamfer_l2(dists_pred, dists_gt, lengths)  # empty predictions: a penalty, counted
        if pred["voxels"] is not None:
            metrics["IoU_vox32"] = voxel_iou(pred["voxels"] >= iso, batch["voxels"] >= ISO)
        if pred["normals"] is not None:
            metrics["NormalConsistency"] = normal_consistency(pred["normals"], idx_pred, normals_gt, idx_gt, lengths)
        metrics.update(meshrcnn_metrics(dists_pred, dists_gt, lengths, longest_edges(batch)))
        iou_labels = labels_iou(pred, batch, iso)
        if iou_labels is not None:
            metrics["IoU_labels"] = iou_labels
        covered = covered_cells({**pred, "lengths": lengths}, iso)  # non-finite predictions cover nothing
        metrics["thin_recall"], metrics["thin_cells"] = thin_recall(covered, batch["voxels"] >= ISO)
        if batch.get("masks") is not None and batch.get("R") is not None:  # image consistency, and its ceiling
            masks = batch["masks"]
            metrics["sil_iou"] = silhouette_iou(silhouettes({**pred, "lengths": lengths}, batch), masks)
            ceiling = pred.get("silhouette_ceiling", "mesh")
            metrics["sil_iou_gt"] = silhouette_iou(gt_silhouettes(ceiling, batch, pred["points"].shape[1]), masks)
        if frame_rows is not None:
            scores = {key: values.tolist() for key, values in to_cpu(frame_scores(pred, batch, iso)).items()}
            frame_rows.extend({key: values[i] for key, values in scores.items()} for i in range(len(points_gt)))
        # One transfer per batch, not one per value: on a GPU each read waits for the device.
        values = {
            k: v.tolist() for k, v in to_cpu({**metrics, "n_pred_points": lengths, "view": batch["view"]}).items()
        }
        for i in range(len(points_gt)):
            row = {
                "synset": batch["synset"][i],
                "model_id": batch["model_id"][i],
                "view": int(values["view"][i]),
                "n_pred_points": int(values["n_pred_points"][i]),
            }
            row.update({k: float(v[i]) for k, v in values.items() if k not in ("view", "n_pred_points")})
            rows.append(row)
    return rows


def to_cpu(tensors: dict) -> dict:
    """{name: (B,) tensor} on the CPU: those on one device stacked into one copy (one host sync for
    a GPU's), those already on the CPU (sil_iou is computed there) as they are."""
    flat = {k: torch.as_tensor(v).detach().double().flatten() for k, v in tensors.items()}
    out = {}
    for device in {v.device for v in flat.values()}:
        names = [k for k, v in flat.items() if v.device == device]
        out.update(zip(names, torch.stack([flat[k] for k in names]).cpu()))
    return {k: out[k] for k in tensors}


def average(rows: list[dict]) -> dict:
    """Mean of every metric over samples, with n_empty (the samples predicted empty: F1 0, Chamfer
    `metrics.EMPTY_PREDICTION`'s penalty, both counted) and thin_recall_samples (how many samples
    thin_recall's mean is over: NaN entries, GTs with too few rod-like cells, are skipped)."""
    keys = [k for k in rows[0] if k not in ("synset", "model_id", "view", "n_pred_points", "thin_cells")]
    out = {}
    for k in keys:
        values = np.array([r[k] for r in rows], dtype=float)
        out[k] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        if k == "thin_recall":
            out["thin_recall_samples"] = int(np.isfinite(values).sum())
    out["n_empty"] = sum(int(r["n_pred_points"] == 0) for r in rows)
    return out


def mean_training_voxels(data_root: str | None) -> torch.Tensor:
    """The average occupancy grid (32, 32, 32) of a data root's train split (every model once)."""
    train = R2N2Dataset(data_root, "train", views="first", quiet=True)
    return mean_occupancy(train.cache["voxels"])


def baseline_voxels(checkpoint: dict | None, data_root: str | None) -> tuple[torch.Tensor, str]:
    """The mean shape a model is compared with, and where it comes from.

    It is the mean of the data the model was trained on, stored in the checkpoint by
    train_model.py, so a model trained on the embedded data and evaluated on real renderings
    is compared with its own training prior. Older checkpoints (and the oracle) fall back to the
    train split of the checkpoint's data root, then of the evaluated one."""
    if checkpoint is not None and "mean_train_voxels" in checkpoint:
        return checkpoint["mean_train_voxels"].float(), "the checkpoint's training data"
    roots = [] if checkpoint is None else [checkpoint.get("args", {}).get("data_root")]
    for root in roots + [data_root]:
        try:
            return mean_training_voxels(root), f"the train split of {root or 'the embedded data'}"
        except DatasetError:
            continue
    raise DatasetError("no train split to take a mean shape from: pass --no_baseline")


def predict_gt_voxels(batch: dict, n_points: int) -> dict:
    """The oracle: GT voxels as if predicted, through the vox evaluation path (the marching-cubes
    surface of the grid, its cells for thin_recall)."""
    voxels = batch["voxels"].float()
    prediction = Prediction(probabilities=voxels, meshes=voxels_to_meshes(voxels, ISO))
    return evaluation_form(prediction, n_points, "volume", "voxels")
