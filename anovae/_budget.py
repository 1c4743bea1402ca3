"""How much training a table gets: the batch size and the number of gradient steps.

A fixed number of epochs is the wrong unit for a detector run on tables of any size:
100 epochs leave 4,000 rows under-trained and cost hours on millions. The budget is
counted in gradient steps instead, and the batch grows with the table, so that
small tables see many passes and large ones a few (training time stops growing
with the row count once the budget is spent, as IsolationForest's sub-sampling
does). How the constants were chosen: ``benchmarks/odds.py`` (the selection protocol
is printed by it) and the notes in the README.
"""

import math

#: ``batch_size="auto"``: one row in ``AUTO_BATCH_DIVISOR`` of the training rows,
#: rounded to a power of two and kept within these bounds.
AUTO_BATCH_MIN, AUTO_BATCH_MAX, AUTO_BATCH_DIVISOR = 64, 1024, 64
#: ``max_steps="auto"``: ``AUTO_STEPS`` minibatch steps while batches are below
#: their cap; beyond it (more than AUTO_BATCH_MAX x AUTO_BATCH_DIVISOR rows) the
#: budget shrinks with the square root of the row count, down to
#: ``AUTO_MIN_STEPS``, because full batches give low-noise gradients and a table of
#: millions of rows must train in seconds (the speed target: within 2x of
#: IsolationForest's time, ``benchmarks/cli.py``). Never more than
#: ``AUTO_MAX_EPOCHS`` passes over a small table: thousands of passes over a few
#: hundred rows fit their noise (on the ten ODDS sets defaults are chosen on,
#: mean AUROC 0.817 with a cap of 500 passes, 0.828 with 50).
AUTO_STEPS, AUTO_MIN_STEPS, AUTO_MAX_EPOCHS = 3000, 1000, 50
#: Steps between two validation checks (and history records). Counted in steps,
#: not epochs, so that patience means the same on 80 rows as on 8 million.
EVAL_INTERVAL = 100
#: Validation rows used by each check: enough for a stable mean, cheap at any size.
MAX_VALIDATION_ROWS = 8192


def batch_size_for(spec, n_rows):
    """The minibatch size for ``n_rows`` training rows (``spec``: "auto" or an int)."""
    if spec != "auto":
        return int(spec)
    target = max(1, n_rows / AUTO_BATCH_DIVISOR)
    rounded = 2 ** round(math.log2(target))
    return int(min(AUTO_BATCH_MAX, max(AUTO_BATCH_MIN, rounded)))


def max_steps_for(spec, n_rows, batch_size, max_epochs=None):
    """The step budget (``spec``: "auto" or an int), capped at ``max_epochs`` passes."""
    steps_per_epoch = -(-n_rows // batch_size)
    cap = float("inf") if max_epochs is None else max_epochs * steps_per_epoch
    if spec != "auto":
        return int(min(int(spec), cap))
    steps = AUTO_STEPS
    full = AUTO_BATCH_MAX * AUTO_BATCH_DIVISOR
    if n_rows > full:
        steps = max(AUTO_MIN_STEPS, int(round(AUTO_STEPS * math.sqrt(full / n_rows))))
    return int(min(steps, AUTO_MAX_EPOCHS * steps_per_epoch, cap))
