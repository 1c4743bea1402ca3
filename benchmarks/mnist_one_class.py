"""One-class MNIST: train on every digit but k, flag digit k in the test set.

For each held-out digit k (the anomaly), ImageVAE and IsolationForest are trained in
the same run on the same subsample of the training digits other than k, then score
all 10000 test images; the script prints the AUROC of each per digit (digit k is the
positive class, the score is -ELBO for the VAE). Labels never reach the detectors.

Settings, chosen to stay under ~10 minutes on 2 shared CPU cores: 6000 training
images per model (drawn at random from the ~54000 of the nine kept digits), the
``mlp2`` preset (two ReLU layers of 500), Nz=20, 10 epochs of Adam (1e-3, M=100),
dynamic binarization; IsolationForest with scikit-learn's defaults on grey levels
scaled to [0, 1]. Test images are binarized once with the VAE's fixed thresholds.

Run from the repository root::

    python benchmarks/mnist_one_class.py
    python benchmarks/mnist_one_class.py --digits 1 7 --n-train 2000 --epochs 3   # a quick look

The data folder is ``--data-home``, else ``$ANOVAE_DATA``, else ``../shared/data``
next to the repository; it must hold ``mnist/``.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

DEFAULT_DATA_HOME = Path(__file__).resolve().parents[1].parent / "shared" / "data"

try:
    import anovae_images
except ImportError:  # the plugin's entry point is not installed yet: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
    import anovae_images


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--n-train", type=int, default=6000, help="training images per model")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--latent-dim", type=int, default=20)
    parser.add_argument("--preset", default="mlp2", choices=sorted(anovae_images.PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-home", default=None)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads; 1 by default because on shared cores torch's spinning "
        "thread pool runs many times slower as soon as another process holds a core",
    )
    return parser.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    data_home = args.data_home or os.environ.get("ANOVAE_DATA") or DEFAULT_DATA_HOME
    backend = anovae_images.get_backend("mnist")
    train, test = backend.load("train", data_home=data_home), backend.load(
        "test", data_home=data_home
    )
    test_pixels = test.images.reshape(len(test.images), -1) / 255.0
    print(
        f"one-class MNIST: {args.n_train} training images of the nine other digits per "
        f"model, {len(test.images)} test images; ImageVAE preset={args.preset} "
        f"Nz={args.latent_dim} epochs={args.epochs}; IsolationForest defaults; "
        f"seed={args.seed}, torch threads={args.threads}",
        flush=True,
    )
    print(
        f"{'digit':>5}  {'VAE AUROC':>9}  {'IForest AUROC':>13}  {'VAE s':>6}  {'IF s':>5}",
        flush=True,
    )
    rows = []
    started = time.perf_counter()
    for digit in args.digits:
        rng = np.random.RandomState(args.seed + digit)
        kept = np.flatnonzero(train.target != digit)
        chosen = np.sort(rng.choice(kept, size=min(args.n_train, len(kept)), replace=False))
        images = train.images[chosen]
        y = (test.target == digit).astype(int)

        t0 = time.perf_counter()
        vae = anovae_images.ImageVAE(
            backend="mnist",
            preset=args.preset,
            latent_dim=args.latent_dim,
            max_epochs=args.epochs,
            n_mc_samples=5,
            random_state=args.seed,
        ).fit(images)
        vae_auc = roc_auc_score(y, -vae.score_samples(test.images))
        t1 = time.perf_counter()
        forest = IsolationForest(random_state=args.seed).fit(
            images.reshape(len(images), -1) / 255.0
        )
        forest_auc = roc_auc_score(y, -forest.score_samples(test_pixels))
        t2 = time.perf_counter()
        rows.append((vae_auc, forest_auc))
        print(
            f"{digit:>5}  {vae_auc:9.3f}  {forest_auc:13.3f}  {t1 - t0:6.1f}  {t2 - t1:5.1f}",
            flush=True,
        )
    means = np.mean(rows, axis=0)
    print(f"{'mean':>5}  {means[0]:9.3f}  {means[1]:13.3f}")
    print(f"total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
