"""Fit time and scoring throughput of anovae's VAE beside PyOD's VAE, at equal work.

Data: a fixed-seed mixture of five correlated Gaussians (each component a random
mean plus ``d // 5`` latent factors through a random loading matrix, plus noise),
50k rows x 20 columns and 1M rows x 100 columns by default (``--cells``), float64,
generated in memory.

Both libraries get the same network and the same amount of work:

- anovae: ``VAE(hidden_layer_sizes=(64, 32), latent_dim=8, batch_size=B,
  max_epochs=E, max_steps=10**12, early_stopping=False, learning_rate=1e-3,
  weight_decay=0.0, random_state=0)``, Adam; every other parameter, the number of
  scoring draws ``n_mc_samples`` included, at its package default (the header line prints ``noise_std`` and ``trim_fraction``, which
  change the objective but not the network's work). Encoder d -> 64 -> 32 -> 2 x 8
  (mean and log-variance in one layer), decoder 8 -> 32 -> 64 -> d (2d with
  ``noise_std="cell"``). The table gives each model's weight count.
- PyOD: ``pyod.models.vae.VAE(encoder_neuron_list=[64, 32],
  decoder_neuron_list=[32, 64], latent_dim=8, batch_size=B, epoch_num=E, lr=1e-3,
  optimizer_params={"weight_decay": 0.0}, dropout_rate=0.0, batch_norm=False,
  preprocessing=False, verbose=0, random_state=0)``: the same layers (its mean and
  log-variance heads are two 32 -> 8 layers), Adam, no dropout
  (anovae has none), no progress bar, and no standardization (the generated columns are
  of order one; skipping it only saves PyOD work). Its ``capacity=0`` default
  leaves the KL term computed but clamped out of the loss.

B = 256 (``--batch-size``) and E = 20 epochs for 10k rows, 8 for 50k, 2 for 1M
(``epochs_for``). The fit time includes what each ``fit`` does after training:
scoring the training rows once (anovae at its default scoring settings, and it
also sets its threshold).

Scoring is ``score_samples(X)`` for anovae at its package defaults (``n_mc_samples``
decoder passes per row: the ratio column and the targets use this) and
``decision_function(X, batch_size=65536)`` for PyOD (one encoder and one decoder pass
per row; anovae's scoring chunks are at most 65536 rows too). The last column is
anovae with ``n_mc_samples=1``, PyOD's amount of work, for reference.

Timing: one warm-up fit of each library first; then for every (n, d) the two fits
run back to back, alternating which goes first, best of ``--repeats`` (1M rows: one
run); scoring calls alternate likewise until each has run for half a second, best
call kept. On a CPU both libraries run with ``torch.set_num_threads(--threads)``,
1 by default: anovae trains these small networks on one thread anyway, and on a
shared machine whose cores are busy, two intra-op threads made PyOD's fit up to 10x
slower, so a default-thread figure would measure the neighbours. The load average
is printed with each row.

PyOD runs on all rows unless ``--pyod-max-rows`` is lower than n: it is then
measured on the first rows with the same epochs, its fit time scaled linearly to n
and such cells are marked ``*`` (its per-row DataLoader makes it the slow side).
anovae always runs on all n rows.

``--peak`` instead reports training throughput as a fraction of the device's
measured matrix-multiply peak: 6 x (weights) x (batch) FLOPs per step (forward and
backward of the MLP) over the step time, against a float32 (and, on a GPU, bf16)
``torch.matmul`` microbenchmark run in the same process.

Run from the repository root::

    python benchmarks/speed.py                    # CPU, 50k x 20 and 1M x 100 (~10 min on 2 cores)
    python benchmarks/speed.py --quick            # 10k x 20 only
    python benchmarks/speed.py --device cuda      # on a GPU
    python benchmarks/speed.py --peak --device cuda
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
import torch

from anovae import VAE

HIDDEN = (64, 32)
LATENT = 8
N_COMPONENTS = 5
SCORING_BATCH = 65536
FIT_TARGET = 3.0
SCORE_TARGET = 5.0


# ---- data ------------------------------------------------------------------------------
def _components(d, seed):
    rng = np.random.default_rng([seed, d])
    rank = max(2, d // 5)
    means = rng.normal(scale=2.0, size=(N_COMPONENTS, d))
    loadings = rng.normal(size=(N_COMPONENTS, rank, d)) / np.sqrt(rank)
    weights = rng.dirichlet(np.full(N_COMPONENTS, 5.0))
    return means, loadings, weights


def mixture_chunks(n, d, seed=0, chunk=100_000):
    """Yield ``n`` rows of the Gaussian mixture in float64 blocks of ``chunk`` rows.

    Block ``i`` comes from its own seeded stream, so the rows do not depend on how
    many blocks a caller asks for.
    """
    means, loadings, weights = _components(d, seed)
    rank = loadings.shape[1]
    for i, start in enumerate(range(0, n, chunk)):
        rng = np.random.default_rng([seed, d, i])
        m = min(chunk, n - start)
        which = rng.choice(N_COMPONENTS, size=m, p=weights)
        factors = rng.normal(size=(m, rank))
        block = rng.normal(scale=0.3, size=(m, d))
        for k in range(N_COMPONENTS):
            rows = which == k
            block[rows] += means[k] + factors[rows] @ loadings[k]
        yield block


def mixture(n, d, seed=0):
    """``n`` x ``d`` rows of the fixed-seed Gaussian mixture, one float64 array."""
    out = np.empty((n, d))
    start = 0
    for block in mixture_chunks(n, d, seed):
        out[start : start + len(block)] = block
        start += len(block)
    return out


def epochs_for(n):
    """Epochs of both fits: about 400k rows of work, between 2 and 20 epochs."""
    return min(20, max(2, 400_000 // n))


# ---- the two detectors -----------------------------------------------------------------
def make_anovae(args, epochs, batch_size=None, precision=None):
    return VAE(
        hidden_layer_sizes=HIDDEN,
        latent_dim=LATENT,
        batch_size=batch_size or args.batch_size,
        max_epochs=epochs,
        # Equal work: the epochs decide, not the package's step budget.
        max_steps=10**12,
        early_stopping=False,
        learning_rate=1e-3,
        weight_decay=0.0,
        device=args.device,
        compile=args.compile,
        precision=precision or args.precision,
        random_state=0,
    )


def pyod_class():
    """PyOD's VAE class, or None when PyOD (the ``bench`` extra) is not installed."""
    try:
        from pyod.models.vae import VAE as PyODVAE
    except ImportError:
        return None
    return PyODVAE


def make_pyod(cls, args, epochs):
    return cls(
        encoder_neuron_list=list(HIDDEN),
        decoder_neuron_list=list(reversed(HIDDEN)),
        latent_dim=LATENT,
        batch_size=args.batch_size,
        epoch_num=epochs,
        lr=1e-3,
        optimizer_name="adam",
        optimizer_params={"weight_decay": 0.0},
        dropout_rate=0.0,
        batch_norm=False,
        preprocessing=False,
        hidden_activation_name="relu",
        output_activation_name="identity",
        device=args.device,
        random_state=0,
        verbose=0,
    )


# ---- timing ----------------------------------------------------------------------------
def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device):
    _sync(device)
    started = time.perf_counter()
    result = fn()
    _sync(device)
    return time.perf_counter() - started, result


def best_interleaved(calls, device, min_seconds=0.5, max_rounds=10):
    """Best time of each zero-argument call, the calls alternating round by round.

    Rounds go on until every call has run at least twice and for ``min_seconds`` in
    all (or ``max_rounds``), so that a quick call is not timed from one noisy run.
    """
    best = {name: float("inf") for name in calls}
    spent = {name: 0.0 for name in calls}
    names = list(calls)
    for round_ in range(max_rounds):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            seconds, _ = timed(calls[name], device)
            best[name] = min(best[name], seconds)
            spent[name] += seconds
        if round_ >= 1 and min(spent.values()) >= min_seconds:
            break
    return best


def load():
    return os.getloadavg()[0]


# ---- the comparison --------------------------------------------------------------------
def compare(n, d, args, pyod):
    X = mixture(n, d)
    epochs = epochs_for(n)
    m = min(n, args.pyod_max_rows)
    Xp = X[:m]
    repeats = args.repeats if n <= 100_000 else 1
    load_start = load()
    fit = {"anovae": float("inf"), "pyod": float("inf")}
    models = {}

    def fit_anovae():
        models["anovae"] = make_anovae(args, epochs).fit(X)

    def fit_pyod():
        models["pyod"] = make_pyod(pyod, args, epochs).fit(Xp)

    fits = {"anovae": fit_anovae}
    if pyod is not None:
        fits["pyod"] = fit_pyod
    for r in range(repeats):
        order = list(fits) if r % 2 == 0 else list(fits)[::-1]
        for name in order:
            seconds, _ = timed(fits[name], args.device)
            fit[name] = min(fit[name], seconds)
    fit["pyod"] *= n / m

    vae = models["anovae"]
    default_draws = VAE().n_mc_samples
    calls = {"anovae": lambda: vae.set_params(n_mc_samples=default_draws).score_samples(X)}
    if pyod is not None:
        calls["pyod"] = lambda: models["pyod"].decision_function(Xp, batch_size=SCORING_BATCH)
    calls["one_draw"] = lambda: vae.set_params(n_mc_samples=1).score_samples(X)
    score = best_interleaved(calls, args.device)
    return {
        "n": n,
        "d": d,
        "epochs": epochs,
        "pyod_rows": m,
        "fit_anovae": fit["anovae"],
        "fit_pyod": fit["pyod"],
        "rate_anovae": n / score["anovae"],
        "rate_pyod": m / score["pyod"] if pyod is not None else float("nan"),
        "rate_one_draw": n / score["one_draw"],
        "load": (load_start + load()) / 2,
        "weights": (n_weights(vae.module_), n_weights(models["pyod"].model) if pyod is not None else 0),
    }


def label(n):
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def print_header(args):
    print(
        f"\ndevice {args.device} ({device_name(args.device)}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} intra-op thread(s), {os.cpu_count()} CPU(s); "
        f"batch {args.batch_size}, hidden {HIDDEN}, latent {LATENT}, "
        f"anovae noise_std={VAE().noise_std!r} trim_fraction={VAE().trim_fraction}"
        + (", compiled" if args.compile else "")
        + (f", {args.precision}" if args.precision != "float32" else "")
    )
    print(
        f"| rows | d | epochs | anovae fit s | PyOD fit s | fit x | anovae score rows/s (S={VAE().n_mc_samples}) "
        "| PyOD score rows/s | score x | anovae S=1 rows/s | weights anovae/PyOD | load |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)


def print_row(row, pyod):
    """One table row, printed as soon as it is measured (a time limit keeps the rest)."""
    star = "*" if row["pyod_rows"] < row["n"] else ""
    if pyod is None:
        pyod_fit = pyod_rate = fit_x = score_x = "n/a"
    else:
        pyod_fit = f"{row['fit_pyod']:.2f}{star}"
        pyod_rate = f"{row['rate_pyod']:,.0f}{star}"
        fit_x = f"{row['fit_pyod'] / row['fit_anovae']:.1f}{star}"
        score_x = f"{row['rate_anovae'] / row['rate_pyod']:.1f}{star}"
    print(
        f"| {label(row['n'])} | {row['d']} | {row['epochs']} | {row['fit_anovae']:.2f} | "
        f"{pyod_fit} | {fit_x} | {row['rate_anovae']:,.0f} | {pyod_rate} | {score_x} | "
        f"{row['rate_one_draw']:,.0f} | {row['weights'][0]:,}/{row['weights'][1]:,} | {row['load']:.1f} |",
        flush=True,
    )


def print_footer(rows, args, pyod):
    if any(row["pyod_rows"] < row["n"] for row in rows):
        print(
            f"\n* PyOD measured on the first {label(args.pyod_max_rows)} rows (same epochs); "
            "its fit time scaled linearly to all rows, its scoring rate is that of those rows."
        )
    if pyod is not None and rows:
        fit_x = min(r["fit_pyod"] / r["fit_anovae"] for r in rows)
        score_x = min(r["rate_anovae"] / r["rate_pyod"] for r in rows)
        target = "" if str(args.device) != "cpu" else (
            f" (CPU targets: fit >= {FIT_TARGET:g}x: {'met' if fit_x >= FIT_TARGET else 'NOT met'}, "
            f"score >= {SCORE_TARGET:g}x: {'met' if score_x >= SCORE_TARGET else 'NOT met'})"
        )
        print(f"\nworst ratios: fit {fit_x:.1f}x, score {score_x:.1f}x{target}")


def device_name(device):
    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    import platform

    return platform.processor() or platform.machine()


# ---- fraction of peak ------------------------------------------------------------------
def matmul_peak(device, dtype, size=None, seconds=1.0):
    """Measured FLOP/s of a square ``torch.matmul`` on ``device`` in ``dtype``."""
    size = size or (8192 if str(device).startswith("cuda") else 1024)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        torch.matmul(a, b)
    _sync(device)
    calls, started = 0, time.perf_counter()
    while True:
        for _ in range(5):
            torch.matmul(a, b)
        calls += 5
        _sync(device)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return 2.0 * size**3 * calls / elapsed


def n_weights(module):
    """Multiply-accumulate weights of the MLP (biases left out)."""
    return sum(p.numel() for p in module.parameters() if p.dim() == 2)


def peak_fraction(args):
    """Training FLOP/s of anovae as a share of the measured matmul peak."""
    cuda = str(args.device).startswith("cuda")
    precisions = ["float32", "bf16"] if cuda else ["float32"]
    peaks = {"float32": matmul_peak(args.device, torch.float32)}
    if cuda:
        peaks["bf16"] = matmul_peak(args.device, torch.bfloat16)
    batches = sorted({args.batch_size, 8192, 65536} if cuda else {args.batch_size, 4096})
    n = 262_144 if cuda else 32_768
    print(
        f"\ndevice {args.device} ({device_name(args.device)}), {torch.get_num_threads()} "
        f"intra-op thread(s); matmul peak: "
        + ", ".join(f"{k} {v / 1e12:.2f} TFLOP/s" for k, v in peaks.items())
    )
    print("| d | batch | precision | weights | step ms | GFLOP/s (6 x weights x batch / step) | fraction of peak |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for d in args.dims:
        X = mixture(n, d)
        for batch in batches:
            for precision in precisions:
                epochs = 3
                vae = make_anovae(args, epochs, batch_size=batch, precision=precision).fit(X)
                steps = -(-n // batch)
                # The first epoch carries warm-up (allocations, kernel choice, compilation).
                step_s = min(h["seconds"] for h in vae.history_[1:]) / steps
                weights = n_weights(vae.module_)
                flops = 6.0 * weights * batch / step_s
                print(
                    f"| {d} | {batch} | {precision} | {weights:,} | {1e3 * step_s:.3f} | "
                    f"{flops / 1e9:,.1f} | {flops / peaks[precision]:.2%} |",
                    flush=True,
                )
    print(f"\nload average {os.getloadavg()}")


# ---- command line ----------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--cells", default="50000x20,1000000x100", help="comma-separated ROWSxCOLUMNS")
    parser.add_argument("--dims", default="20,100", help="column counts of --peak")
    parser.add_argument("--quick", action="store_true", help="10k rows x 20 columns only")
    parser.add_argument("--batch-size", type=int, default=256, help="minibatch of both libraries")
    parser.add_argument("--repeats", type=int, default=2, help="fits per library up to 100k rows (best kept)")
    parser.add_argument("--pyod-max-rows", type=int, default=1_000_000,
                        help="PyOD runs on at most this many rows; more are extrapolated (marked *)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads for both libraries; 0 keeps torch's default")
    parser.add_argument("--compile", action="store_true", help="anovae with compile=True")
    parser.add_argument("--precision", default="float32", choices=["float32", "bf16"], help="anovae precision")
    parser.add_argument("--no-pyod", action="store_true", help="anovae only")
    parser.add_argument("--peak", action="store_true", help="training throughput as a fraction of matmul peak")
    args = parser.parse_args(argv)
    cells = "10000x20" if args.quick else args.cells
    args.cells = [tuple(int(v) for v in cell.split("x")) for cell in cells.split(",")]
    args.dims = [20] if args.quick else [int(s) for s in args.dims.split(",")]
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", module="pyod")
    warnings.filterwarnings("ignore", category=FutureWarning)

    if args.peak:
        peak_fraction(args)
        return

    pyod = None if args.no_pyod else pyod_class()
    if pyod is None and not args.no_pyod:
        print("PyOD is not installed (pip install -e .[bench]): anovae only", file=sys.stderr)
    print(f"load average at start {os.getloadavg()}", flush=True)
    warm = mixture(max(2000, 2 * args.batch_size), args.cells[0][1])
    make_anovae(args, 1).fit(warm).score_samples(warm)
    if pyod is not None:
        make_pyod(pyod, args, 1).fit(warm).decision_function(warm)

    print_header(args)
    rows = []
    for n, d in args.cells:
        started = time.perf_counter()
        rows.append(compare(n, d, args, pyod))
        print_row(rows[-1], pyod)
        print(f"{label(n)} x {d} done in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    print_footer(rows, args, pyod)
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
