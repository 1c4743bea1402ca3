"""Scoring a fitted network: fixed draws, chunked evaluation, per-row and per-cell bounds.

Plain functions over an estimator's parts (the network, the column codec, the draws,
the device), so that the estimators, the streamed fit and the public helpers of
``anovae.modeling`` score alike. Every function returns NumPy arrays on the CPU.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ._device import cpu_threads, scoring_threads, scoring_workers
from ._likelihoods import Batch
from ._objectives import elbo_terms, gaussian_kl, log_likelihood_bound
from ._tabular import GAUSSIAN

# Upper bound on the floats one scoring chunk materializes (samples x rows x width):
# keeps memory flat whatever the number of rows. On a CPU the bound is the cache's:
# chunks whose activations fit in a core's cache scored 200k rows x 20 columns (5
# draws, one thread) at 668k rows/s against 227k rows/s for 32 MB chunks; a GPU
# wants few, large launches.
_CHUNK_ELEMENTS = 1 << 23
_CPU_CHUNK_ELEMENTS = 1 << 19
_MAX_CHUNK_ROWS = 65536


def fixed_draws(seed, shape, device="cpu"):
    """Standard normal draws of ``shape`` from their own generator seeded with ``seed``.

    Drawn on the CPU, then moved to ``device``, so that a seed gives the same numbers
    on every device. A model that scores with draws fixed at ``fit`` (common random
    numbers for every row and every call) gives deterministic scores that do not
    depend on which other rows are scored alongside. No global generator is touched.
    """
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator).to(device)


def rows_per_chunk(samples, width, device="cpu"):
    """How many rows one scoring chunk holds so that memory stays flat.

    ``samples`` draws per row times ``width`` floats per row and draw (the widest
    layer or output) are kept under about half a million floats per chunk on a CPU
    (the activations stay in cache) and 8 million on a GPU, and a chunk never
    exceeds 65,536 rows, whatever the number of rows scored.
    """
    budget = _CPU_CHUNK_ELEMENTS if torch.device(device).type == "cpu" else _CHUNK_ELEMENTS
    return int(min(_MAX_CHUNK_ROWS, max(1, budget // (samples * width))))


def to_batch(encoded, device):
    """Encoded rows (``_tabular.Encoded``) as the network's input tensors on ``device``."""
    return Batch(
        torch.from_numpy(encoded.num).to(device),
        torch.from_numpy(encoded.bin).to(device),
        torch.from_numpy(encoded.cat).to(device),
    )


def chunk_rows(module, samples, device):
    """Rows per scoring chunk for a tabular network: its widest layer or output decides."""
    width = max(module.likelihood.output_dim, *module.encoder[0].weight.shape)
    return rows_per_chunk(samples, width, device)


#: Cells encoded at a time when a large in-memory table is scored (see
#: :func:`row_blocks`).
_BLOCK_CELLS = 2**21


def row_blocks(n_rows, n_columns, chunk):
    """Row slices, each a whole number of scoring chunks of ``chunk`` rows, of about
    ``_BLOCK_CELLS`` cells (at least one chunk).

    Encoding a whole 1M x 100 table before scoring it wrote 400 MB of fresh memory:
    the kernel's first touch of those pages cost as much as the network's pass
    (1M x 100: 525k rows/s on a first call, 780k on the next). Blocks of a few MB
    reuse the same memory and stay in cache. Whole chunks per block keep every
    chunk's rows, hence every score, the same to the bit as without blocks.
    """
    step = chunk * max(1, _BLOCK_CELLS // max(1, chunk * n_columns))
    return [slice(start, start + step) for start in range(0, n_rows, step)]


def map_chunks(module, encoded, fn, device, samples=1, conditions=None, parallel=False):
    """Apply ``fn(batch, condition) -> tensor`` chunk by chunk; concatenate as NumPy.

    ``module`` is moved to ``device`` and put in evaluation mode first; ``samples``
    (draws per row) sizes the chunks; ``conditions`` are one-hot rows or None.
    ``parallel``: ``fn`` is pure (no random generator, no shared state), so on a
    CPU chunks may run side by side on several threads (:func:`scoring_workers`);
    the result is the same to the bit, as each chunk is computed alone either way.
    """
    module.to(device).eval()
    step = chunk_rows(module, samples, device)
    starts = range(0, len(encoded), step)
    threads = scoring_threads(module)
    workers = scoring_workers(device, threads, len(starts)) if parallel else 1

    def chunk(start):
        rows = slice(start, start + step)
        batch = to_batch(encoded.take(rows), device)
        condition = None
        if conditions is not None:
            condition = torch.as_tensor(conditions[rows], dtype=torch.float32, device=device)
        # inference_mode is per thread: entered here, in whichever thread runs the chunk.
        with torch.inference_mode():
            return fn(batch, condition).double().cpu()

    # The same thread rule as training: a small network gains nothing from a
    # second thread per operation and loses much on a busy machine.
    with cpu_threads(device, threads):
        if workers == 1:
            outputs = [chunk(start) for start in starts]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="anovae-scoring") as pool:
                outputs = list(pool.map(chunk, starts))
    return torch.cat(outputs).numpy()


def log_jacobian(codec, encoded):
    """Sum over each row's Gaussian cells of log |d model value / d original value|.

    Added to the bound, it makes scores log-densities of the data as given, not
    of its standardized (or power-transformed) copy. A missing cell counts with
    its column's mean, as its likelihood term counts with its expected value.
    """
    if encoded.log_jac is None:
        return np.full(len(encoded), -codec.log_scales().sum())
    return encoded.log_jac.sum(axis=1, dtype=np.float64)


def missing_cells(codec, encoded):
    """Which cells of the encoded rows are missing, (n, n_columns), in table order."""
    missing = np.concatenate([np.isnan(encoded.num), np.isnan(encoded.bin), encoded.cat < 0], axis=1)
    return missing[:, codec.column_order()]


def log_likelihood_bounds(module, codec, encoded, eps, device, conditions=None, kl_weight=1.0):
    """ELBO (one importance sample) or IWAE bound per row, in nats, in the data's units.

    ``eps`` has shape (S, K, 1, latent_dim). A missing cell contributes its expected
    log-likelihood given the observed ones, so that rows with different numbers of
    observed cells are comparable: leaving the cell out would make every incomplete
    row look more normal. ``kl_weight``: see
    :func:`~anovae._objectives.log_likelihood_bound`.
    """

    def fn(batch, condition):
        return log_likelihood_bound(module, batch, eps, condition, fill_missing=True, kl_weight=kl_weight)

    bound = map_chunks(
        module, encoded, fn, device, samples=eps.shape[0] * eps.shape[1], conditions=conditions, parallel=True
    )
    return bound + log_jacobian(codec, encoded)


def cell_scores(module, codec, encoded, eps, device, conditions=None):
    """Negative expected log-likelihood per cell (NaN where missing), table order.

    ``eps`` has shape (S, 1, latent_dim). The encoder's input is completed as for
    the row's score, so that the observed cells' terms are the score's own.
    """

    def fn(batch, condition):
        return elbo_terms(module, batch, eps, condition, complete=True)[0]

    g = len(codec.names(GAUSSIAN))
    if encoded.log_jac is not None and encoded.log_jac.shape[1] != g:
        raise ValueError("cell scores need the per-cell log-Jacobian: encode with cell_jacobian=True")
    cells = map_chunks(module, encoded, fn, device, samples=eps.shape[0], conditions=conditions, parallel=True)
    cells[:, :g] += -codec.log_scales() if encoded.log_jac is None else encoded.log_jac
    scores = -cells[:, codec.column_order()]
    scores[missing_cells(codec, encoded)] = np.nan
    return scores


def latent_means(module, encoded, device, conditions=None):
    """E_q[z | x] per row."""

    def fn(batch, condition):
        return module.encode(batch, condition)[0]

    return map_chunks(module, encoded, fn, device, conditions=conditions, parallel=True)


def kl_terms(module, encoded, device, conditions=None):
    """KL(q(z | x) || p(z)) per row."""

    def fn(batch, condition):
        return gaussian_kl(*module.encode(batch, condition))

    return map_chunks(module, encoded, fn, device, conditions=conditions, parallel=True)
