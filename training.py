"""What one training step computes: the batches of each step, the targets and the loss of each type.

    sampler = StepBatchSampler(len(dataset), batch_size=32, seed=0, start_step=0, max_iter=450)
    loss, terms = compute_loss(model, batch, args)     # weighted total, unweighted terms for logs

`train_model.py` runs the loop (optimizer, schedule, checkpoints, DDP) around these; the
benchmarks and tests call them directly.
"""

import queue
import threading

import torch
import torch.nn.functional as F

from losses import chamfer_and_normal_loss, chamfer_loss, smoothness_loss, voxel_terms
from model import float32


class StepBatchSampler(torch.utils.data.Sampler):
    """Batches for steps [start_step, max_iter): a deterministic function of (seed, step).

    Each epoch is a permutation of the dataset seeded by (seed, epoch); consecutive global
    batches of batch_size * world_size indices are cut from the concatenated epochs, and rank r
    takes its contiguous share, as DistributedSampler partitions an epoch. Every batch is full
    (no drop_last), and resuming at any step replays exactly the same batches.
    """

    def __init__(
        self,
        n_items: int,
        batch_size: int,
        seed: int,
        start_step: int,
        max_iter: int,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.n, self.batch_size, self.seed = n_items, batch_size, seed
        self.start_step, self.max_iter, self.rank, self.world_size = start_step, max_iter, rank, world_size

    def __len__(self) -> int:
        return max(0, self.max_iter - self.start_step)

    def _epoch(self, epoch: int) -> torch.Tensor:
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch))

    def __iter__(self):
        global_batch = self.batch_size * self.world_size
        cached_epoch, permutation = -1, None
        for step in range(self.start_step, self.max_iter):
            first = step * global_batch + self.rank * self.batch_size
            indices = []
            for position in range(first, first + self.batch_size):
                epoch, offset = divmod(position, self.n)
                if epoch != cached_epoch:
                    cached_epoch, permutation = epoch, self._epoch(epoch)
                indices.append(int(permutation[offset]))
            yield indices


def prefetch(loader, prepare, start_step: int, depth: int = 2):
    """The loader's batches, each passed through prepare(batch, step) in a background thread
    that keeps up to `depth` batches ready: reading, the copy to the device and augmentation
    overlap with the step before instead of delaying it. Batches come in order; an error in the
    thread is raised here."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def work():
        try:
            for step, batch in enumerate(loader, start_step):
                ready.put(prepare(batch, step))
        except BaseException as err:  # handed to the consumer, raised there
            ready.put(err)
        ready.put(done)

    threading.Thread(target=work, daemon=True, name="prefetch").start()
    while (item := ready.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def occupancy_targets(
    voxels_gt: torch.Tensor, points_gt: torch.Tensor, n_queries: int, generator=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Query points and 0/1 labels for occupancy training.

    Half the queries are uniform in [-0.5, 0.5]^3, half are surface samples jittered by
    N(0, 0.03^2) (Occupancy Networks: near-surface samples carry the detail). Labels come from the
    GT solid, the 32^3 voxel grid, by trilinear interpolation thresholded at 0.5: the same
    0.5 iso-surface that marching cubes extracts from the GT voxels.

    voxels_gt: (B, D, H, W) [z, y, x]; points_gt: (B, S, 3). Returns (B, P, 3), (B, P).
    """
    B = voxels_gt.shape[0]
    device = voxels_gt.device
    n_uniform = n_queries // 2
    uniform = torch.rand(B, n_uniform, 3, device=device, generator=generator) - 0.5
    pick = torch.randint(points_gt.shape[1], (B, n_queries - n_uniform), device=device, generator=generator)
    near = torch.gather(points_gt, 1, pick[..., None].expand(-1, -1, 3))
    near = near + 0.03 * torch.randn(near.shape, device=device, generator=generator)
    queries = torch.cat([uniform, near], dim=1).clamp(-0.5, 0.5)
    # grid_sample reads grid (x, y, z) in [-1, 1] against (D, H, W) = (z, y, x); align_corners=False
    # puts -1 and 1 on the outer faces of the cube, as our voxel centres assume.
    occupancy = F.grid_sample(voxels_gt[:, None], 2 * queries[:, :, None, None], mode="bilinear", align_corners=False)
    return queries, (occupancy.view(B, -1) >= 0.5).float()


def exact_occupancy_targets(
    occ_points: torch.Tensor, occ_labels: torch.Tensor, n_queries: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """n_queries of each item's stored exact queries (points.npz: uniform and near-surface
    points labelled by the true solid), drawn at random. occ_points (B, Q, 3), occ_labels
    (B, Q) bool -> (B, n_queries, 3), (B, n_queries) float."""
    B, Q, _ = occ_points.shape
    pick = torch.randint(Q, (B, n_queries), device=occ_points.device)
    queries = torch.gather(occ_points, 1, pick[..., None].expand(-1, -1, 3))
    return queries, torch.gather(occ_labels, 1, pick).float()


def mesh_losses(meshes, points_gt: torch.Tensor, normals_gt: torch.Tensor, n_points: int) -> tuple[torch.Tensor, ...]:
    """Mesh R-CNN's mesh losses of a Meshes batch against GT surface samples (B, S, 3) with
    normals: Chamfer and normal (`losses.chamfer_and_normal_loss`, on n_points sampled from each
    mesh) and edge (mean squared edge length, PyTorch3D's). Empty meshes are left out; all three
    are 0 when every mesh is empty."""
    from pytorch3d.loss import mesh_edge_loss
    from pytorch3d.ops import sample_points_from_meshes

    nonempty = [i for i, faces in enumerate(meshes.faces_list()) if len(faces)]
    if not nonempty:
        zero = points_gt.new_zeros(())
        return zero, zero, zero
    meshes = meshes[nonempty]
    points, normals = sample_points_from_meshes(meshes, n_points, return_normals=True)
    chamfer, normal = chamfer_and_normal_loss(points, normals, points_gt[nonempty], normals_gt[nonempty])
    return chamfer, normal, mesh_edge_loss(meshes)


def point_subsets(points: torch.Tensor, normals: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A new random subset of n of each item's S surface samples (without replacement), and
    their normals: (B, S, 3) -> (B, n, 3). Drawn from the global generator, which train_model.py
    seeds by (seed, step): every step of every epoch sees other points, and a resumed run draws
    the ones an uninterrupted run would."""
    B, S, _ = points.shape
    if S <= n:
        return points, normals
    pick = torch.rand(B, S, device=points.device).argsort(dim=1)[:, :n, None].expand(-1, -1, 3)
    return torch.gather(points, 1, pick), torch.gather(normals, 1, pick)


def compute_loss(model, batch: dict, args) -> tuple[torch.Tensor, dict]:
    """Weighted total loss of a batch and the unweighted terms (Mesh R-CNN's MeshLoss style).

    The network may run under bf16 autocast (--amp); every loss, its targets and PyTorch3D's ops
    (knn, sampling, the Laplacian) run in float32 with autocast off (`model.float32`)."""
    from pytorch3d.ops import sample_points_from_meshes

    raw_model = model.module if hasattr(model, "module") else model
    images = batch["images"]
    vox_loss = dict(pos_weight=args.pos_weight, w_dice=args.w_dice, w_aux=args.w_aux)
    if args.type == "vox":
        logits, aux = model(images, return_aux=True)
        with float32(images):
            return voxel_terms(logits.float(), batch["voxels"], [a.float() for a in aux], **vox_loss)
    if args.type in ("point", "mesh", "voxmesh"):
        points_gt, normals_gt = point_subsets(batch["points"], batch["normals"], args.n_points)
    if args.type == "point":
        points = model(images)
        with float32(images):
            chamfer = chamfer_loss(points.float(), points_gt)
        return args.w_chamfer * chamfer, {"chamfer": chamfer.detach()}
    if args.type == "mesh":
        verts = model(images)
        with float32(images):
            meshes = raw_model.decoder.to_meshes(verts.float())
            chamfer = chamfer_loss(sample_points_from_meshes(meshes, args.n_points), points_gt)
            smooth = smoothness_loss(meshes)
        return args.w_chamfer * chamfer + args.w_smooth * smooth, {
            "chamfer": chamfer.detach(),
            "smooth": smooth.detach(),
        }
    if args.type == "voxmesh":
        logits, stages, aux = model(images, return_aux=True)
        with float32(images):
            total, terms = voxel_terms(logits.float(), batch["voxels"], [a.float() for a in aux], **vox_loss)
            if stages[0].isempty():  # no cell above the threshold: no mesh to refine this step
                # A zero term keeps the refinement's parameters in the graph: DDP requires every
                # parameter to receive a gradient at every step.
                return total + 0.0 * sum(p.sum() for p in raw_model.decoder.refinement_parameters()), terms
            for k, meshes in enumerate(stages):
                chamfer, normal, edge = mesh_losses(meshes, points_gt, normals_gt, args.n_points)
                total = total + args.w_chamfer * chamfer + args.w_normal * normal + args.w_edge * edge
                terms.update(
                    {f"chamfer{k}": chamfer.detach(), f"normal{k}": normal.detach(), f"edge{k}": edge.detach()}
                )
        return total, terms
    if batch.get("occ_points") is not None and batch["occ_points"].shape[1] > 0:
        queries, labels = exact_occupancy_targets(batch["occ_points"], batch["occ_labels"], args.n_queries)
    else:  # data without points.npz: labels read off the 32^3 grid
        queries, labels = occupancy_targets(batch["voxels"], batch["points"], args.n_queries)
    logits = model(images, queries.float())
    with float32(images):
        loss = F.binary_cross_entropy_with_logits(logits.float(), labels)
    return loss, {"bce": loss.detach()}
