"""Device resolution: ``"auto"`` means CUDA when present, else CPU."""

import contextlib
import os
import threading

import torch

from .errors import AnovaeError


def resolve_device(spec):
    if spec in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError):
        raise AnovaeError(f"device {spec!r} is not a valid torch device") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AnovaeError(f"device={spec!r} but CUDA is not available on this machine; use device='cpu' or 'auto'")
    return device


_THREADS_LOCK = threading.Lock()


@contextlib.contextmanager
def cpu_threads(device, n_threads):
    """Run the block with ``n_threads`` intra-op CPU threads, then restore the setting.

    torch's thread count is one setting for the whole process, so anovae follows
    one rule when it touches it:

    - only on the CPU, and only where ``training_threads``/``scoring_threads`` ask
      for it (one thread for a small network);
    - the previous value is restored when the fit or scoring call ends;
    - one call at a time: a call that starts while another thread's call holds a
      changed setting leaves the setting alone, so two estimators used from two
      threads never restore each other's value in the wrong order;
    - ``ANOVAE_THREADS=keep`` in the environment turns all of this off.
    """
    if device.type != "cpu" or n_threads is None or os.environ.get("ANOVAE_THREADS") == "keep":
        yield
        return
    if not _THREADS_LOCK.acquire(blocking=False):
        yield
        return
    try:
        previous = torch.get_num_threads()
        torch.set_num_threads(n_threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)
    finally:
        _THREADS_LOCK.release()


def _widest(module):
    return max((p.shape[0] * p.shape[-1] for p in module.parameters() if p.dim() == 2), default=0)


def scoring_workers(device, n_threads, n_chunks):
    """Threads that score chunks side by side, each chunk on one thread.

    Where each operation runs on one thread (``n_threads == 1``: a small network
    on a CPU, :func:`scoring_threads`), the cores torch is set to use are better
    spent on separate chunks: no operation waits for another thread, so a busy
    machine slows it no more than one thread. As many workers as
    ``torch.get_num_threads()`` (the user's setting, or the machine's cores; read
    before :func:`cpu_threads` lowers it), at most one per chunk; one with
    ``ANOVAE_THREADS=keep``, on a GPU, or for a larger network, which gets torch's
    own thread pool instead.
    """
    if device.type != "cpu" or n_threads != 1 or n_chunks < 2 or os.environ.get("ANOVAE_THREADS") == "keep":
        return 1
    return max(1, min(n_chunks, torch.get_num_threads()))


def scoring_threads(module):
    """Intra-op threads for scoring: one for a small MLP, the default pool otherwise.

    Scoring 100k x 20 rows took 0.15-0.22 s on one thread and 0.87-1.33 s on two on
    a busy two-core machine (benchmarks/speed.py); large layers still get threads.
    """
    return 1 if _widest(module) <= 256 * 256 else None


def training_threads(module, batch_size):
    """Intra-op threads worth using for one training step of ``module`` on a CPU.

    A minibatch step of a small MLP takes well under a millisecond of arithmetic;
    splitting it across threads costs more in synchronization than it saves, and
    on a busy machine waiting threads make it many times slower (measured: 0.17 s
    vs 1.4 s per epoch on the IoT sample with two threads on two loaded cores).
    Only a step with real matrix work gets the default thread pool: the same held
    for 1,024-row steps of the default network (71-137 ms per step with two threads
    against 5-7 ms with one on the loaded machine, benchmarks/scale_training.py), so
    the bar is 8 million multiply-adds of the widest layer per step.
    """
    return 1 if batch_size * _widest(module) < 8_000_000 else None
