"""Data-parallel training on PyTorch's own engine: DDP under torchrun. Nothing home-made.

torchrun starts one process per rank and tells each its place through the environment
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT): that is torchrun's protocol, read
once here at start-up. Every rank draws the same seeded permutation and takes its own slice of
each global batch, so `batch_size` stays the global batch and no sample is seen twice per epoch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from netfit.errors import RunError

# a rank that dies must end the job, not hang the others: collectives time out after this
TIMEOUT = timedelta(seconds=120)


@dataclass(frozen=True)
class Dist:
    """This process's place in the job; the defaults describe a plain single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only rank 0 writes files and draws progress."""
        return self.rank == 0


def from_env() -> Dist:
    """The job layout torchrun put in the environment, or a single process."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1:
        return Dist()
    return Dist(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))


def start(d: Dist, device_name: str) -> torch.device:
    """Join the process group (gloo on CPU, NCCL on CUDA) and return this rank's device."""
    use_cuda = device_name != "cpu" and torch.cuda.is_available()
    device = torch.device(f"cuda:{d.local_rank}" if use_cuda else "cpu")
    if not d.enabled:
        return device
    if use_cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=TIMEOUT)
    return device


def stop(d: Dist) -> None:
    """Leave the job together: a rank that tears its connections down while another still uses
    them can abort inside gloo ("terminate called without an active exception", seen once in CI)."""
    if d.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def shard(batch_idx: torch.Tensor, d: Dist) -> torch.Tensor:
    """This rank's rows of one global batch: every world_size-th row, starting at rank."""
    return batch_idx[d.rank::d.world_size] if d.enabled else batch_idx


def loss_scale(n_rank: int, n_global: int, d: Dist) -> float:
    """DDP averages gradients over ranks; scaling each rank's mean loss by its share of the global
    batch makes that average equal the gradient of the global batch mean, tails included."""
    return n_rank * d.world_size / n_global if d.enabled else 1.0


def rank_rows(batch_idx: torch.Tensor, d: Dist) -> tuple[torch.Tensor, float]:
    """This rank's rows of one global batch and the share its loss is weighted by."""
    mine = shard(batch_idx, d)
    return mine, loss_scale(len(mine), len(batch_idx), d)


def wrap(model: torch.nn.Module, d: Dist) -> torch.nn.Module:
    """The module the training step calls: DDP around `model` in a job, `model` itself otherwise."""
    if not d.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    on_cuda = next(model.parameters()).is_cuda
    return DistributedDataParallel(model, device_ids=[d.local_rank] if on_cuda else None)


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()


def mean_over_ranks(running: torch.Tensor, batches: int, d: Dist) -> float:
    """The epoch's mean batch loss over all ranks (one host read; every rank gets the same value)."""
    if not d.enabled:
        return running.item() / max(batches, 1)
    totals = torch.stack([running.detach().float(), torch.tensor(float(batches), device=running.device)])
    dist.all_reduce(totals, op=dist.ReduceOp.SUM)
    total, count = totals.tolist()
    return total / max(count, 1.0)


def sum_over_ranks(value: torch.Tensor, d: Dist) -> torch.Tensor:
    """A device scalar summed over the ranks (a collective, no host read); itself in one process."""
    if not d.enabled:
        return value
    total = value.detach().float().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def follow_main(values: tuple, d: Dist) -> tuple:
    """Rank 0's values on every rank: stop decisions must be the same everywhere or ranks hang."""
    if not d.enabled:
        return values
    box = [values]
    dist.broadcast_object_list(box, src=0)
    return tuple(box[0])


def launch(nproc: int, argv: list[str]) -> int:
    """`netfit train --nproc N ...`: start torchrun with N local ranks running the same command."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    if nproc < 1:
        raise RunError("--nproc must be at least 1", found=str(nproc), hint="e.g. --nproc 2")
    args = get_args_parser().parse_args(["--nproc-per-node", str(nproc), "--standalone", "-m", "netfit", *argv])
    try:
        run(args)
    except ChildFailedError as e:  # one rank failed; its own output above says why
        raise RunError("a training process failed, so the whole job was stopped", found=str(e).splitlines()[0][:300],
                       hint="read the failing rank's message above") from None
    return 0
