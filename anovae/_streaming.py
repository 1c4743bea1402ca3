"""Fitting a VAE on a table larger than memory: ``VAE.fit_stream``.

The table is read piece by piece (``_sources``: Parquet row groups, slices of
DataFrames, or chunks from a function), never whole:

1. One pass computes the codec's statistics (``_stream_stats``: exact counts,
   moments and categories; the power transform from a uniform sample of at most
   ``sample_rows`` rows) and counts the rows, which set the training budget
   (``max_steps_for`` on the total row count, as an in-memory fit of the same
   table would).
2. Validation rows for early stopping: the first ``validation_fraction`` of the
   rows, capped at the sample's size, of that uniform sample, in key order. They
   are held out of training by their global ids, and each check scores at most
   ``MAX_VALIDATION_ROWS`` of them, as in memory. A held-out sample rather than
   held-out row groups: row groups are often days or devices, and holding one out
   would validate on a different distribution.
3. Training passes visit the units in a new seeded random order each pass, encode
   each chunk and feed it through a shuffle buffer of at most ``buffer_rows``
   rows, from which minibatches are drawn at random. At the end of a pass the
   buffer is emptied, so every training row is seen once per pass.
4. What a missing cell costs at scoring is calibrated on the held-out rows (see
   ``_missing_cells``), as in memory.
5. The threshold (``offset_``) is set from the scores of the sample, a uniform
   sample of the training table (its held-out part only for a strategy that
   needs held-out rows), instead of from every row's score.

Memory held, whatever the table's size: the shuffle buffer (``buffer_rows``
encoded rows), the chunk being read (at most half of that), the sample
(``sample_rows`` rows; up to twice that while the first pass runs) and the
network. ``streaming_["peak_buffer_rows"]`` reports what the buffer held.

Under torchrun (a default process group initialized), each process reads every
``world_size``-th unit and the training is data-parallel (see ``_ddp``).
"""

from dataclasses import dataclass

import numpy as np

from ._base import _check_training_rows
from ._budget import MAX_VALIDATION_ROWS, batch_size_for, max_steps_for
from ._ddp import current_group
from ._device import cpu_threads, resolve_device, training_threads
from ._scoring import to_batch
from ._sources import number_units, open_source, row_ids
from ._stream_stats import StreamStats
from ._tabular import Encoded
from .errors import DataError

#: Rows of encoded data the shuffle buffer holds at most. 65,536 rows of 50
#: numeric columns are 13 MB; it mixes 64 of the largest automatic batches.
DEFAULT_BUFFER_ROWS = 65536
#: Rows of the uniform sample: the power transform's exponent is fitted on at most
#: 100,000 rows in memory too (``_power.MAX_FIT_ROWS``).
DEFAULT_SAMPLE_ROWS = 100_000


@dataclass
class StreamedFit:
    """What a streamed fit leaves beside the estimator, for a command's report."""

    n_rows: int
    sample: object  # DataFrame of the sampled rows (features and label column)
    scores: np.ndarray  # score_samples of the sampled rows
    n_held_out: int  # the sample's first rows, held out of training


def check_stream_arguments(buffer_rows, sample_rows):
    for name, value in (("buffer_rows", buffer_rows), ("sample_rows", sample_rows)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
            raise ValueError(f"{name} must be an integer of at least 2, got {value!r}")


def fit_stream(
    estimator,
    source,
    *,
    columns=None,
    label_column=None,
    to_labels=None,
    buffer_rows=DEFAULT_BUFFER_ROWS,
    sample_rows=DEFAULT_SAMPLE_ROWS,
    group=None,
):
    """Fit ``estimator`` (a VAE, parameters already validated) on ``source``.

    ``columns``: the feature columns (default: all but ``label_column``);
    ``to_labels(series) -> y`` turns the sampled rows' label column into what a
    supervised threshold takes. Returns a :class:`StreamedFit`.
    """
    check_stream_arguments(buffer_rows, sample_rows)
    group = group or current_group()
    source = open_source(source)
    features, extra = _features(source, columns, label_column)
    if group.size > 1 and not source.shardable:
        raise DataError("a distributed fit needs data it can share out: Parquet or DataFrames, not a function")
    init_seed, train_seed, split_seed = estimator._training_seeds()
    number_units(source.units)
    chunk_rows = max(1, buffer_rows // 2)
    shard = source.units[group.rank :: group.size]

    stats = _statistics(source, shard, features, extra, sample_rows, split_seed, chunk_rows, group)
    # The in-memory fit's minimum and warning, on the whole table's row count.
    _check_training_rows(estimator, (stats.n_rows, len(features)))
    sample_ids, sample = stats.sample.result()
    codec = stats.codec(sample, estimator.likelihood, estimator.numeric_transform)
    estimator._frame(sample[features], reset=True)  # feature names, as fit sets them
    estimator._codec = codec
    estimator.feature_kinds_ = codec.kinds()

    strategy = estimator._threshold_strategy()
    held_out = bool(getattr(strategy, "needs_held_out", False))
    n_val = min(int(round(estimator.validation_fraction * stats.n_rows)), len(sample))
    if not (estimator.early_stopping or held_out) or stats.n_rows - n_val < 1:
        n_val = 0
    held_ids = np.sort(sample_ids[:n_val])
    if min(group.gather(lambda: _trainable_rows(shard, held_ids))) == 0:
        raise DataError(
            f"{source.describe()}: a process has no rows to train on ({len(source.units)} "
            f"pieces for {group.size} processes); use fewer processes or smaller row groups"
        )
    encoded_sample = codec.encode(sample[features])
    peak_rows = _train(
        estimator, source, shard, features, held_ids, encoded_sample, stats.n_rows - n_val,
        buffer_rows, chunk_rows, init_seed, train_seed, group,
    )
    # What a missing cell costs, from the held-out rows (the sample's first rows,
    # as many as an in-memory fit uses); without any, from the sample's training
    # rows. The sample and the weights are the same in every process of a
    # distributed fit, so every process computes the same offsets.
    calibration = slice(0, min(n_val or len(sample), MAX_VALIDATION_ROWS))
    estimator._calibrate_missing_cells(encoded_sample.take(calibration))
    estimator.streaming_ = {
        "n_rows": int(stats.n_rows),
        "n_units": len(source.units),
        "n_processes": group.size,
        "sample_rows": len(sample),
        "held_out_rows": int(n_val),
        "buffer_rows": int(buffer_rows),
        "peak_buffer_rows": peak_rows,
        "chunk_rows": chunk_rows,
    }

    scores = estimator._log_likelihood_bound(encoded_sample)
    y = to_labels(sample[label_column]) if label_column is not None and to_labels is not None else None
    estimator._set_offset(strategy, scores, y, np.arange(n_val) if held_out else None)
    return StreamedFit(int(stats.n_rows), sample, scores, int(n_val))


def _statistics(source, shard, features, extra, sample_rows, seed, chunk_rows, group):
    """The first pass: every process reads its ``shard``; the statistics of all
    shards are merged, in rank order, in every process."""

    def shard_stats():
        stats = StreamStats(features, source.numeric, sample_rows, seed, extra)
        for unit in shard:
            position = 0
            for frame in source.read(unit, features + extra, chunk_rows):
                stats.add(frame, row_ids(unit, position, len(frame)), _locator(source, unit, position))
                position += len(frame)
            if unit.n_rows is None:
                unit.n_rows = position
        return stats

    gathered = group.gather(shard_stats)
    stats = gathered[0]
    for other in gathered[1:]:
        stats.merge(other)
    if not stats.n_rows:
        raise DataError(f"{source.describe()}: no rows")
    return stats


def _train(estimator, source, shard, features, held_ids, encoded_sample, n_train, buffer_rows, chunk_rows,
           init_seed, train_seed, group):
    """The training passes over this process's ``shard``; returns the buffer's peak rows.

    The budget is that of one process on all ``n_train`` rows; each of ``group.size``
    processes takes its share of every global batch.
    """
    batch_size = _batch_size(estimator.batch_size, n_train, buffer_rows)
    max_steps = max_steps_for(estimator.max_steps, n_train, batch_size, estimator.max_epochs)
    rank_batch = -(-batch_size // group.size)
    device = group.device(resolve_device(estimator.device))
    module = estimator._new_module(init_seed, device)
    validation_loss = None
    n_val = len(held_ids)
    if n_val and estimator.early_stopping:
        checked = encoded_sample.take(slice(0, min(n_val, MAX_VALIDATION_ROWS)))
        validation_loss = estimator._validation_loss(module, checked, None, device, average=group.average)

    rank_seed = (train_seed + 7919 * group.rank) % (2**31 - 1)
    buffer = ShuffleBuffer(buffer_rows, rank_batch, np.random.default_rng([rank_seed, 1]))
    batches = _batches(source, shard, features, estimator._codec, held_ids, buffer, chunk_rows, device, rank_seed)
    with cpu_threads(device, training_threads(module, rank_batch)):
        history = estimator._train(
            module, None, None, validation_loss, device, rank_seed,
            batch_size=rank_batch, max_steps=max_steps,
            batches=batches,
            loss_fn=group.loss_fn(module, estimator.beta, estimator.trim_fraction),
            all_reduce=group.all_reduce,
        )
    estimator._set_trained(module, history, batch_size, max_steps)
    return buffer.peak_rows


def _features(source, columns, label_column):
    names = source.columns
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"{source.describe()}: column {dup!r} appears more than once")
    if label_column is not None and label_column not in names:
        raise DataError(f"{source.describe()}: no label column {label_column!r}")
    if columns is None:
        features = [c for c in names if c != label_column]
    else:
        features = [str(c) for c in columns]
        missing = [c for c in features if c not in names]
        if missing:
            raise DataError(f"{source.describe()}: no column(s) {', '.join(map(repr, missing))}")
        if label_column in features:
            raise ValueError(f"label_column {label_column!r} is also one of the feature columns")
    if not features:
        raise DataError(f"{source.describe()}: no feature column")
    return features, [label_column] if label_column is not None else []


def _batch_size(spec, n_train, buffer_rows):
    # The buffer must hold at least two batches, so that each batch is drawn from
    # rows of more than one chunk.
    limit = buffer_rows // 2
    if spec == "auto":
        return min(batch_size_for(spec, n_train), limit)
    if int(spec) > limit:
        raise ValueError(f"batch_size={spec} needs buffer_rows of at least {2 * int(spec)}, got {buffer_rows}")
    return int(spec)


def _locator(source, unit, start):
    def where(position):
        return source.where(unit, start + position)

    return where


def _trainable_rows(units, held_ids):
    total = 0
    for unit in units:
        lo, hi = np.searchsorted(held_ids, [unit.first_id, unit.first_id + unit.n_rows])
        total += unit.n_rows - int(hi - lo)
    return total


def _training_mask(ids, held_ids):
    """False for the rows held out for validation (``ids`` are consecutive)."""
    keep = np.ones(len(ids), dtype=bool)
    if len(ids) and len(held_ids):
        lo, hi = np.searchsorted(held_ids, [ids[0], ids[-1] + 1])
        keep[held_ids[lo:hi] - ids[0]] = False
    return keep


def _batches(source, units, features, codec, held_ids, buffer, chunk_rows, device, seed):
    """Yield ``(Batch on device, None, pass)`` without end: each pass visits ``units``
    in a new random order and empties the shuffle buffer at its end."""
    rng = np.random.default_rng([seed, 2])
    epoch = 0
    while True:
        epoch += 1
        for u in rng.permutation(len(units)):
            unit, position = units[u], 0
            for frame in source.read(unit, features, chunk_rows):
                keep = _training_mask(row_ids(unit, position, len(frame)), held_ids)
                position += len(frame)
                if not keep.all():
                    frame = frame[keep]
                if len(frame):
                    for batch in buffer.add(codec.encode(frame)):
                        yield to_batch(batch, device), None, epoch
        for batch in buffer.drain():
            yield to_batch(batch, device), None, epoch


def concat_encoded(parts):
    log_jac = None if parts[0].log_jac is None else np.concatenate([p.log_jac for p in parts])
    return Encoded(
        np.concatenate([p.num for p in parts]),
        np.concatenate([p.bin for p in parts]),
        np.concatenate([p.cat for p in parts]),
        log_jac,
    )


class ShuffleBuffer:
    """At most ``capacity`` encoded rows, from which minibatches leave in random order.

    Each chunk added is shuffled in with the rows already held; when the next chunk
    would not fit, batches are taken from the (shuffled) front to make room. A row
    therefore leaves in a batch mixed with rows of the chunks read before and
    after it. ``peak_rows`` is the most rows it ever held.
    """

    def __init__(self, capacity, batch_size, rng):
        if batch_size > capacity // 2:
            raise ValueError(f"a shuffle buffer of {capacity} rows cannot mix batches of {batch_size}")
        self.capacity, self.batch_size, self.rng = capacity, batch_size, rng
        self.pool = None
        self.peak_rows = 0

    def __len__(self):
        return 0 if self.pool is None else len(self.pool)

    def add(self, encoded):
        """Take in ``encoded`` (at most half the capacity); return the batches that left."""
        if len(encoded) > self.capacity // 2:
            raise ValueError(f"a chunk of {len(encoded)} rows is more than half of the buffer's {self.capacity}")
        out = []
        while len(self) + len(encoded) > self.capacity:
            out.append(self._take(self.batch_size))
        pool = encoded if self.pool is None else concat_encoded([self.pool, encoded])
        self.pool = pool.take(self.rng.permutation(len(pool)))
        self.peak_rows = max(self.peak_rows, len(self.pool))
        return out

    def drain(self):
        """Every row still held, in batches (the last one possibly smaller)."""
        out = []
        while len(self):
            out.append(self._take(min(self.batch_size, len(self))))
        return out

    def _take(self, n):
        batch = self.pool.take(slice(0, n))
        rest = self.pool.take(slice(n, None))
        self.pool = rest if len(rest) else None
        return batch
