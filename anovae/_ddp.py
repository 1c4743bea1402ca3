"""Data-parallel training over several processes (torch DistributedDataParallel).

A fit runs in every process of a job started by ``torchrun`` (or by ``anovae fit
--nproc N``, which starts the processes itself, see ``_launch.py``). Each process
reads its own shard of the data (every ``world_size``-th unit of the source, see
``_sources``); what the processes must agree on goes through the calls below:

- the codec's statistics: every process computes them on its shard, all of them
  are gathered and merged in rank order (the same merge on every process);
- each gradient step: DistributedDataParallel averages the gradients;
- the logged totals and the early-stopping check: summed or averaged over the
  processes, so that every process stops at the same step and raises the same
  divergence error;
- errors found while reading: a process that fails still takes part in the next
  gather, with its message instead of its result, so that the others stop with a
  one-line error naming it instead of waiting on it. A process that dies outright
  is handled by the launcher (torchrun and ``--nproc`` end the others) and, as a
  last resort, by the process group's timeout (``ANOVAE_DDP_TIMEOUT`` seconds,
  default 600).

The backend is gloo on CPUs and NCCL on CUDA devices (one device per process,
``cuda:LOCAL_RANK``). Rank 0 writes the model.
"""

import datetime
import os

import torch

from ._objectives import negative_elbo
from .errors import AnovaeError, one_line_reason

DEFAULT_TIMEOUT_S = 600


class PeerFailed(AnovaeError):
    """Another process of a distributed fit failed; it reports its own error."""


class LocalGroup:
    """One process alone: the same calls, doing nothing."""

    rank, size = 0, 1
    all_reduce = None
    average = None

    def gather(self, compute):
        return [compute()]

    def device(self, device):
        return device

    def loss_fn(self, module, beta, trim_fraction):
        return None


class ProcessGroup:
    """The default torch.distributed process group, seen by one of its processes."""

    def __init__(self):
        import torch.distributed as dist

        self.dist = dist
        self.rank, self.size = dist.get_rank(), dist.get_world_size()
        self.backend = dist.get_backend()
        self._device = None

    def device(self, device):
        """The device of this process: ``cuda:LOCAL_RANK`` for a CUDA fit."""
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        self._device = device
        return device

    def _tensor(self, values):
        # NCCL only moves CUDA tensors.
        device = self._device if self.backend == "nccl" else torch.device("cpu")
        return torch.as_tensor(values, dtype=torch.float64, device=device)

    def gather(self, compute):
        """Every process's ``compute()``, in rank order; raises on every process if one fails."""
        try:
            mine = (True, compute())
        except Exception as exc:  # reported to the others, then raised here
            mine, error = (False, one_line_reason(exc)), exc
        else:
            error = None
        gathered = [None] * self.size
        self.dist.all_gather_object(gathered, mine)
        if error is not None:
            raise error
        for rank, (ok, value) in enumerate(gathered):
            if not ok:
                raise PeerFailed(f"process {rank} of {self.size} failed: {value}")
        return [value for _, value in gathered]

    def all_reduce(self, tensor):
        """Sum of ``tensor`` over the processes (returned on the tensor's device)."""
        summed = self._tensor(tensor.detach().to("cpu"))
        self.dist.all_reduce(summed)
        return summed.to(tensor.device)

    def average(self, value):
        total = self._tensor([value])
        self.dist.all_reduce(total)
        return float(total.item()) / self.size

    def loss_fn(self, module, beta, trim_fraction):
        """The training loss through DistributedDataParallel, which averages gradients."""
        from torch.nn.parallel import DistributedDataParallel

        device = next(module.parameters()).device
        wrapped = DistributedDataParallel(
            _Loss(module, beta, trim_fraction),
            device_ids=[device.index] if device.type == "cuda" else None,
        )
        return wrapped


class _Loss(torch.nn.Module):
    # DDP synchronizes the parameters used in its wrapped module's forward; the loss
    # reads the likelihood's parameters too, so the whole loss is the forward.
    def __init__(self, module, beta, trim_fraction):
        super().__init__()
        self.module = module
        self.beta, self.trim_fraction = beta, trim_fraction

    def forward(self, batch, eps, condition=None, *encoder_batch):
        return negative_elbo(self.module, batch, eps, self.beta, condition, self.trim_fraction, *encoder_batch)


def current_group():
    """The process group a fit should use: the default one when torch.distributed is
    initialized with more than one process, else :class:`LocalGroup`."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return ProcessGroup()
    return LocalGroup()


def init_from_environment(device):
    """Join the job described by torchrun's environment variables (RANK, WORLD_SIZE,
    MASTER_ADDR, MASTER_PORT): gloo on CPU, NCCL for CUDA. Returns the group."""
    import torch.distributed as dist

    if not dist.is_available():
        raise AnovaeError("this torch build has no torch.distributed; train in one process")
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        timeout = datetime.timedelta(seconds=float(os.environ.get("ANOVAE_DDP_TIMEOUT", DEFAULT_TIMEOUT_S)))
        try:
            dist.init_process_group(backend, init_method="env://", timeout=timeout)
        except Exception as exc:
            raise AnovaeError(f"cannot join the distributed job: {one_line_reason(exc)}") from None
    return ProcessGroup()


def leave():
    """Leave the process group (at the end of a command)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
