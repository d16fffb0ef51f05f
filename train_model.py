"""Train a single-view 3D reconstruction model.

    python train_model.py --type vox                       # default CPU budget on the embedded data
    python train_model.py --type point --n_points 2000
    python train_model.py --type mesh --w_chamfer 1.0 --w_smooth 0.1
    python train_model.py --type occupancy
    python train_model.py --type vox --load_checkpoint     # resume the run in --out_dir exactly
    torchrun --nproc_per_node 2 train_model.py --type vox  # DistributedDataParallel

Checkpoints go to <out_dir>/checkpoint_<type>.pth (default out_dir: checkpoints/<type>), with
args.json beside them. Defaults are sized for a 2-core CPU (see the README to scale up on a GPU).
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

from dataset import DatasetError, R2N2Dataset, batch_to_device, collate_batch
from losses import chamfer_loss, smoothness_loss, voxel_loss
from model import TYPES, ModelError, SingleViewto3D, default_model_args, load_checkpoint


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser("Train a single-view to 3D model", add_help=True)
    parser.add_argument("--type", default="vox", choices=TYPES)
    parser.add_argument("--arch", default="resnet18", choices=["resnet18"])
    parser.add_argument("--pretrained", default=None, help="local ImageNet ResNet18 weights (.pth); default: train from scratch")
    parser.add_argument("--image_size", type=int, default=64, help="encoder input resolution; images are resized to it (64 keeps the CPU budget; 137, the R2N2 size, on a GPU)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max_iter", type=int, default=None, help="training steps (default: per type, sized for a 2-core CPU)")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--num_workers", type=int, default=None, help="DataLoader workers (default: 0 on CPU, 4 on CUDA)")
    parser.add_argument("--n_points", type=int, default=1000, help="predicted points (point type) and sampled points per Chamfer term")
    parser.add_argument("--n_queries", type=int, default=1024, help="occupancy: query points per image per step")
    parser.add_argument("--w_chamfer", type=float, default=1.0)
    parser.add_argument("--w_smooth", type=float, default=0.1)
    parser.add_argument("--pos_weight", type=float, default=3.0,
                        help="vox: weight of occupied voxels in the BCE; ~5%% of the grid is occupied and plain BCE (--pos_weight 1) under-fills thin parts")
    parser.add_argument("--save_freq", type=int, default=200)
    parser.add_argument("--log_freq", type=int, default=50)
    parser.add_argument("--load_checkpoint", action="store_true", help="resume from <out_dir>/checkpoint_<type>.pth")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_root", default=None, help="folder with r2n2/, shapenet/, splits.json (default: embedded dataset)")
    parser.add_argument("--out_dir", default=None, help="run folder (default: checkpoints/<type>)")
    return parser


# Steps of the default budget: 6.5-10 minutes of a 2-core CPU each at batch 32 (see the README).
DEFAULT_MAX_ITER = {"vox": 450, "point": 800, "mesh": 800, "occupancy": 1200}


def fail(message: str) -> None:
    """One clear line on stderr and a non-zero exit."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def checkpoint_path(out_dir: str, type: str) -> str:
    return os.path.join(out_dir, f"checkpoint_{type}.pth")


def atomic_save(obj, path: str) -> None:
    """torch.save to a temporary file, then rename: a crash never leaves a broken file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    torch.save(obj, tmp)
    os.replace(tmp, path)


class StepBatchSampler(torch.utils.data.Sampler):
    """Batches for steps [start_step, max_iter): a deterministic function of (seed, step).

    Each epoch is a permutation of the dataset seeded by (seed, epoch); consecutive global
    batches of batch_size * world_size indices are cut from the concatenated epochs, and rank r
    takes its contiguous share, as DistributedSampler partitions an epoch. Every batch is full
    (no drop_last), and resuming at any step replays exactly the same batches.
    """

    def __init__(self, n_items: int, batch_size: int, seed: int, start_step: int, max_iter: int, rank: int = 0, world_size: int = 1):
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


def occupancy_targets(voxels_gt: torch.Tensor, points_gt: torch.Tensor, n_queries: int, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
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


def compute_loss(model, batch: dict, args) -> tuple[torch.Tensor, dict]:
    """Weighted total loss of a batch and the unweighted terms (Mesh R-CNN's MeshLoss style)."""
    from pytorch3d.ops import sample_points_from_meshes

    raw_model = model.module if hasattr(model, "module") else model
    images = batch["images"]
    if args.type == "vox":
        loss = voxel_loss(model(images), batch["voxels"], pos_weight=args.pos_weight)
        return loss, {"bce": loss.detach()}
    if args.type == "point":
        chamfer = chamfer_loss(model(images).float(), batch["points"])
        return args.w_chamfer * chamfer, {"chamfer": chamfer.detach()}
    if args.type == "mesh":
        meshes = raw_model.decoder.to_meshes(model(images).float())
        chamfer = chamfer_loss(sample_points_from_meshes(meshes, args.n_points), batch["points"])
        smooth = smoothness_loss(meshes)
        return args.w_chamfer * chamfer + args.w_smooth * smooth, {"chamfer": chamfer.detach(), "smooth": smooth.detach()}
    queries, labels = occupancy_targets(batch["voxels"], batch["points"], args.n_queries)
    logits = model(images, queries).float()
    loss = F.binary_cross_entropy_with_logits(logits, labels)
    return loss, {"bce": loss.detach()}


def setup_distributed(args):
    """(rank, world_size, device); initialises the process group under torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        fail(f"--device {args.device}: CUDA is not available on this machine; use --device cpu")
    if world_size > 1:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world_size, device


def default_num_workers(device: str) -> int:
    """DataLoader workers: the cache makes loading cheap, so none on CPU, where they would take
    cores from the step; 4 on CUDA, to overlap loading with the GPU."""
    return 4 if device.startswith("cuda") else 0


def resolve_args(args) -> None:
    """Fill per-type defaults in place."""
    args.out_dir = args.out_dir or os.path.join("checkpoints", args.type)
    args.max_iter = args.max_iter or DEFAULT_MAX_ITER[args.type]
    if args.num_workers is None:
        args.num_workers = default_num_workers(args.device)


def check_out_dir(out_dir: str) -> None:
    try:
        os.makedirs(out_dir, exist_ok=True)
        probe = os.path.join(out_dir, f".write-test-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as err:
        fail(f"--out_dir {out_dir} is not writable ({err.strerror})")


def main(args: argparse.Namespace) -> dict:
    resolve_args(args)
    for name in ("max_iter", "batch_size", "n_points", "save_freq", "log_freq", "n_queries"):
        if getattr(args, name) < 1:
            fail(f"--{name} must be at least 1")
    if not (math.isfinite(args.lr) and args.lr > 0):
        fail(f"--lr must be a positive number, got {args.lr}")
    rank, world_size, device = setup_distributed(args)
    is_main = rank == 0
    if is_main:
        check_out_dir(args.out_dir)
    torch.backends.cudnn.benchmark = True

    # Model: from the checkpoint's own model_args when resuming, so flags need not be repeated.
    ckpt_path = checkpoint_path(args.out_dir, args.type)
    checkpoint = None
    try:
        if args.load_checkpoint:
            checkpoint = load_checkpoint(ckpt_path, expected_type=args.type)
            model_args = checkpoint["model_args"]
            if args.type == "point" and model_args["n_points"] != args.n_points:
                fail(f"checkpoint {ckpt_path} predicts {model_args['n_points']} points but --n_points is {args.n_points}")
        else:
            model_args = default_model_args(args.type, arch=args.arch, image_size=args.image_size, n_points=args.n_points)
        torch.manual_seed(args.seed)
        model = SingleViewto3D(pretrained=args.pretrained if checkpoint is None else None, **model_args).to(device)
    except ModelError as err:
        fail(str(err))
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.max_iter)
    start_step = 0
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        start_step = checkpoint["step"]
    if world_size > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    try:
        dataset = R2N2Dataset(args.data_root, "train", n_points=args.n_points, return_meshes=False, seed=args.seed, quiet=not is_main)
    except DatasetError as err:
        fail(str(err))
    sampler = StepBatchSampler(len(dataset), args.batch_size, args.seed, start_step, args.max_iter, rank, world_size)
    pin = device.type == "cuda"
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, num_workers=args.num_workers, collate_fn=collate_batch, pin_memory=pin,
        persistent_workers=False, prefetch_factor=4 if args.num_workers > 0 else None,
    )
    if is_main:
        with open(os.path.join(args.out_dir, "args.json"), "w") as f:
            json.dump({**vars(args), "model_args": model_args, "world_size": world_size}, f, indent=1)
        print(f"training {args.type} on {device} x{world_size}: {len(dataset)} train images, steps {start_step}..{args.max_iter}, batch {args.batch_size}", flush=True)

    def save(step: int) -> None:
        raw = model.module if world_size > 1 else model
        atomic_save(
            {"model": raw.state_dict(), "model_args": model_args, "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "step": step, "args": vars(args), "best_metric": None},
            ckpt_path,
        )

    from tqdm import tqdm

    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=args.amp)
    model.train()
    last_saved = start_step if checkpoint is not None else None
    step, history = start_step, []
    t_data, t_step, t_last = 0.0, 0.0, time.perf_counter()
    bar = tqdm(total=args.max_iter, initial=start_step, desc=f"train {args.type}", unit="step", disable=not is_main)
    for batch in loader:
        t_loaded = time.perf_counter()
        batch = batch_to_device(batch, device, non_blocking=pin)
        # Randomness inside a step (mesh sampling, occupancy queries) depends on (seed, step)
        # only, so a resumed run draws exactly what an uninterrupted one would.
        torch.manual_seed(args.seed * 1_000_003 + step * world_size + rank)
        with autocast:
            loss, terms = compute_loss(model, batch, args)
        if not torch.isfinite(loss):
            last = f"{ckpt_path} (step {last_saved})" if last_saved is not None else "none written yet"
            fail(f"non-finite loss {loss.item()} at step {step}; last good checkpoint: {last}. Try a lower --lr")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        step += 1
        now = time.perf_counter()
        t_data += t_loaded - t_last
        t_step += now - t_last
        t_last = now
        history.append(loss.item())
        if is_main:
            bar.update()
            if step % args.log_freq == 0 or step == args.max_iter:
                n = args.log_freq if step % args.log_freq == 0 else step % args.log_freq
                terms_str = " ".join(f"{k} {v.item():.5f}" for k, v in terms.items())
                tqdm.write(f"step {step:6d} | loss {loss.item():.5f} | {terms_str} | lr {scheduler.get_last_lr()[0]:.2e} | {t_step / n:.3f} s/step | data {t_data / n:.3f} s/step")
                t_data = t_step = 0.0
            if step % args.save_freq == 0 or step == args.max_iter:
                save(step)
                last_saved = step
    bar.close()
    if world_size > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if is_main:
        print(f"done: step {step}, final loss {history[-1] if history else float('nan'):.5f}; checkpoint {ckpt_path}")
    return {"step": step, "losses": history, "checkpoint": ckpt_path}


if __name__ == "__main__":
    main(get_args_parser().parse_args())
