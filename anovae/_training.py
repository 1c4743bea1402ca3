"""Minibatch AEVB training (Kingma & Welling 2014, Algorithm 1).

Data stay on the device for the whole run and batches are taken by index, so an
epoch costs one permutation and a few gathers. Running sums stay on the device too:
the host only syncs once per epoch, to log and to check for divergence.
"""

import contextlib
import copy
import sys
import time

import torch

from ._manual_step import manual_step
from ._objectives import mask_inputs, negative_elbo
from ._optim import OPTIMIZERS
from ._weight_average import WeightAverage, horizon_decay
from .errors import TrainingError

PRECISIONS = {"float32": None, "bf16": torch.bfloat16}



def make_optimizer(name, parameters, learning_rate, weight_decay):
    """The optimizer (anovae's own: see ``_optim.py`` for why not ``torch.optim``)."""
    return OPTIMIZERS[name](parameters, lr=learning_rate, weight_decay=weight_decay)


def make_loss(module, beta, compile_step, trim_fraction=0.0):
    """The minibatch loss; optionally compiled with torch.compile.

    Compilation costs seconds to a minute up front and pays off on long runs.
    """

    def loss(batch, eps, condition, *encoder_batch):
        # encoder_batch only with input masking: the common call keeps its signature.
        return negative_elbo(module, batch, eps, beta, condition, trim_fraction, *encoder_batch)

    if compile_step:
        return torch.compile(loss, dynamic=False)
    return loss


class Progress:
    """Training progress on stderr: a bar at verbose=1, one line per evaluation at 2."""

    def __init__(self, verbose, max_steps, stream=None):
        self.verbose = verbose
        self.max_steps = max_steps
        self.stream = stream or sys.stderr

    def update(self, record):
        if not self.verbose:
            return
        step, loss = record["step"], record["loss"]
        val = record["val_loss"]
        val_text = "" if val is None else f" val {val:.4g}"
        if self.verbose >= 2:
            print(
                f"step {step:6d}  epoch {record['epoch']:4d}  loss {loss:.4g}  "
                f"recon {record['reconstruction']:.4g}  kl {record['kl']:.4g}{val_text}  "
                f"{record['seconds']:.2f}s",
                file=self.stream,
            )
            return
        width = 30
        filled = int(width * step / self.max_steps)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(
            f"\rtraining [{bar}] step {step}/{self.max_steps} (epoch {record['epoch']}) "
            f"loss {loss:.4g}{val_text}"
        )
        self.stream.flush()

    def close(self, stopped_early):
        if self.verbose == 1:
            note = " (early stop)" if stopped_early else ""
            self.stream.write(f"{note}\n")
            self.stream.flush()


def train(
    module,
    data,
    *,
    conditions=None,
    validation=None,
    validation_loss=None,
    beta,
    max_epochs=None,
    max_steps=None,
    batch_size,
    optimizer,
    learning_rate,
    weight_decay,
    n_iter_no_change,
    tol,
    generator,
    verbose=0,
    compile_step=False,
    precision="float32",
    trim_fraction=0.0,
    input_masking=0.0,
    ema_horizon=0.0,
    eval_interval=None,
    batches=None,
    loss_fn=None,
    all_reduce=None,
):
    """Fit ``module`` on ``data`` (a Batch already on the device); return the history.

    Training runs for ``max_steps`` minibatch steps, or ``max_epochs`` passes over the
    data, whichever comes first (at least one must be given). Every
    ``eval_interval`` steps (default: one epoch) a record is added to the history and,
    when ``validation_loss()`` is given, the validation loss is checked: after
    ``n_iter_no_change`` checks without a relative improvement of ``tol`` training
    stops and the best weights seen are restored. With ``ema_horizon`` > 0 the weights
    checked, kept and returned are an exponential moving average of the iterates
    whose horizon is that share of the step budget (``_weight_average.py``).

    Training on data that is not one in-memory table (``_streaming.py``, ``_ddp.py``)
    goes through three hooks: ``batches``, an iterator of ``(batch, condition,
    epoch)`` used instead of ``data`` (which may then be None; give ``max_steps`` and
    ``eval_interval``); ``loss_fn(batch, eps, condition) -> (loss, recon sum, kl
    sum)`` instead of the module's own loss (a DistributedDataParallel wrapper);
    and ``all_reduce(tensor) -> tensor``, summing the logged totals over processes,
    so that every process logs the same means and stops on divergence together.
    """
    if batches is None:
        batches = in_memory_batches(data, conditions, batch_size, generator)
    n = len(data) if data is not None else None
    if n is None and not (max_steps and eval_interval):
        raise ValueError("train on a stream of batches needs max_steps and eval_interval")
    steps_per_epoch = -(-n // batch_size) if n is not None else None
    budget = [b for b in (max_steps, None if max_epochs is None else max_epochs * steps_per_epoch) if b]
    if not budget:
        raise ValueError("train needs max_steps or max_epochs")
    max_steps = min(budget)
    eval_interval = min(eval_interval or steps_per_epoch, max_steps)

    opt = make_optimizer(optimizer, module.parameters(), learning_rate, weight_decay)
    autocast_dtype = PRECISIONS[precision]
    # Hand-written gradients where they apply (_manual_step.py): the same step
    # without the autograd engine's overhead.
    step_fn, flat_grad = None, None
    if loss_fn is None and not compile_step and autocast_dtype is None:
        step_fn = manual_step(module, beta, trim_fraction, data)
    # The manual step's gradients lie in one tensor; the optimizer takes it as it is
    # when its own buffer holds the same parameters in the same order.
    flat_layout = (
        step_fn is not None and opt.flat is not None and len(opt.params) == len(step_fn.params)
        and all(a is b for a, b in zip(opt.params, step_fn.params))
    )
    loss_fn = loss_fn or make_loss(module, beta, compile_step, trim_fraction)
    average = None
    if ema_horizon:
        average = WeightAverage([opt.flat] if opt.flat is not None else opt.params, horizon_decay(ema_horizon, max_steps))
    device = generator.device
    latent_dim = module.latent_dim
    history = []
    progress = Progress(verbose, max_steps)
    best_loss, best_state, stale = float("inf"), None, 0
    stopped_early = False
    step, epoch = 0, 0
    # Each step's (loss, reconstruction sum, KL sum), summed at each record: adding
    # them up every step cost a few small operations per step.
    pending, seen = [], 0
    started = time.perf_counter()
    module.train()
    while step < max_steps:
        batch, condition, epoch = next(batches)
        eps = torch.randn(len(batch), latent_dim, generator=generator, device=device)
        # The encoder's view of the batch: with input masking, a share of its cells
        # hidden (drawn after eps, so without masking the draws are unchanged).
        args = (batch, eps, condition) if not input_masking else (
            batch, eps, condition, mask_inputs(batch, input_masking, generator))
        caller_autocast = torch.is_autocast_enabled(device.type)
        if step_fn is not None and not caller_autocast:
            loss, recon, kl = step_fn(*args)  # sets the gradients itself
            flat_grad = step_fn.flat_grad if flat_layout else None
        else:
            if autocast_dtype is None and not caller_autocast:
                # Entering even a disabled autocast context costs more than one of a
                # small network's elementwise ops; it is needed only to switch off a
                # caller's autocast.
                loss, recon, kl = loss_fn(*args)
            else:
                with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                    loss, recon, kl = loss_fn(*args)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            flat_grad = None
        opt.step(flat_grad)
        if average is not None:
            average.update()
        # Detached, or a list of autograd losses would keep every step's graph alive.
        pending.append((loss.detach(), recon.detach(), kl.detach(), len(batch)))
        seen += len(batch)
        step += 1
        if step % eval_interval and step < max_steps:
            continue
        total = _summed(pending)
        pending = []
        if all_reduce is not None:
            summed = all_reduce(torch.cat([total.double(), total.new_tensor([seen], dtype=torch.float64)]))
            total, seen = summed[:3], int(summed[3])
        loss_sum, recon_sum, kl_sum = (float(v) for v in total.tolist())
        if not all(map(_finite, (loss_sum, recon_sum, kl_sum))):
            raise TrainingError(
                f"training diverged at step {step} (epoch {epoch}): the loss is not "
                "finite; try a lower learning_rate"
            )
        val = None
        if validation_loss is not None:
            module.eval()
            with average.applied() if average is not None else contextlib.nullcontext():
                val = validation_loss()
                improved = best_state is None or val < best_loss - tol * max(1.0, abs(best_loss))
                if improved:
                    best_state = copy.deepcopy(module.state_dict())
            module.train()
        record = {
            "step": step,
            "epoch": epoch,
            "loss": loss_sum / seen,
            "reconstruction": recon_sum / seen,
            "kl": kl_sum / seen,
            "val_loss": val,
            "seconds": time.perf_counter() - started,
        }
        history.append(record)
        progress.update(record)
        seen, started = 0, time.perf_counter()
        if val is None:
            continue
        if improved:
            best_loss, stale = val, 0
        else:
            stale += 1
            if stale >= n_iter_no_change:
                stopped_early = True
                break
    progress.close(stopped_early)
    if best_state is not None:
        module.load_state_dict(best_state)
    elif average is not None:
        average.apply()
    # The parameters leave the optimizer's flat buffer for storage of their own, as
    # a model loaded from a file has: BLAS rounds a product differently with the
    # operands' memory alignment, and a fitted and a reloaded model must score alike
    # to the bit.
    with torch.no_grad():
        for p in module.parameters():
            p.data = p.data.clone()
    module.eval()
    return history


def _summed(pending):
    """(loss x rows, reconstruction, KL) summed over the steps of ``pending``."""
    losses, recons, kls, sizes = zip(*pending)
    per_step = torch.stack([torch.stack(losses), torch.stack(recons), torch.stack(kls)])
    per_step[0] *= per_step.new_tensor(sizes)
    return per_step.sum(dim=1)


def in_memory_batches(data, conditions, batch_size, generator):
    """Minibatches of an in-memory ``data`` (a Batch): a fresh permutation each epoch.

    Yields ``(batch, condition rows or None, epoch)`` without end; ``train`` stops it.
    """
    n, epoch = len(data), 0
    while True:
        order = torch.randperm(n, generator=generator, device=generator.device)
        epoch += 1
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            yield data.index(rows), None if conditions is None else conditions[rows], epoch


def _finite(value):
    return value == value and abs(value) != float("inf")
