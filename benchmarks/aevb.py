"""Reproduce the experiments of Kingma & Welling, "Auto-Encoding Variational Bayes".

MNIST, dynamically binarized, Nz=20
    ImageVAE (``mlp2`` preset: two ReLU layers of 500 units, Adam 1e-3, M=100) trained
    on the 60000 training images, a new binarization every epoch. Reported: the
    test ELBO on all 10000 test images (binarized once, seed 0; 10 draws per image)
    and the test log-likelihood estimated by the importance-weighted bound with
    K=1000 (Burda et al. 2016) on a random subset of the test images, for time.
Frey Face, Nz in {2, 10}
    The paper's network (one tanh layer of 200 units, Gaussian pixels with sigmoid
    means and learned variances, M=100) on the 1765 training faces; the lower bound
    per image on those and on the 200 held-out faces.
Pictures (written to ``docs/images/``)
    ``mnist_samples.png`` (samples of the Nz=20 model), ``mnist_manifold.png`` and
    ``frey_manifold.png`` (2-D latent manifolds, as the paper's Figure 4).

Deviation from the paper: Adam instead of Adagrad. In a CPU budget Adagrad at the
paper's step sizes learns far more slowly (Frey Face, Nz=10, 200 epochs: ELBO 815
nats with Adagrad 0.02 against 1269 with Adam 1e-3; Adagrad 0.1 diverged).

Run from the repository root (about 20 minutes on 2 shared CPU cores)::

    python benchmarks/aevb.py
    python benchmarks/aevb.py --mnist-epochs 2 --frey-epochs 20 --iwae-images 50 --images-dir /tmp

The data folder is ``--data-home``, else ``$ANOVAE_DATA``, else ``../shared/data``
next to the repository; it must hold ``mnist/`` and ``frey-face/``.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_HOME = ROOT.parent / "shared" / "data"

try:
    import anovae_images
except ImportError:  # the plugin's entry point is not installed yet: use the source tree
    sys.path.insert(0, str(ROOT / "plugins"))
    import anovae_images
from anovae_images._plots import save_image_grid, save_manifold

# Published figures printed beside ours.
AEVB_MNIST = "AEVB Fig. 2, Nz=20 (Adagrad, ~10^8 training samples): test bound about -100 to -95 (read off the plot)"
IWAE_VAE = "Burda et al. 2016, Table 1, VAE (1 stochastic layer, k=1): test log-likelihood -86.76"
AEVB_FREY = "AEVB Fig. 2, Frey Face: train bound plateaus around 1300-1450 (read off the plot)"

TARGET_ELBO, TARGET_LL = -100.0, -95.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist-epochs", type=int, default=30)
    parser.add_argument("--mnist-preset", default="mlp2", choices=sorted(anovae_images.PRESETS))
    parser.add_argument(
        "--manifold-epochs", type=int, default=3, help="MNIST Nz=2 model for the picture"
    )
    parser.add_argument("--iwae-k", type=int, default=1000)
    parser.add_argument(
        "--iwae-images", type=int, default=1000, help="test images for the IWAE bound"
    )
    parser.add_argument("--frey-epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--images-dir", default=str(ROOT / "docs" / "images"))
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads; 1 by default because on shared cores torch's spinning "
        "thread pool runs many times slower as soon as another process holds a core",
    )
    return parser.parse_args()


def mean_and_error(values):
    return float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(len(values)))


def clock(started):
    return f"{time.perf_counter() - started:.0f}s"


def mnist(args, data_home, images_dir):
    backend = anovae_images.get_backend("mnist")
    train, test = backend.load("train", data_home=data_home), backend.load(
        "test", data_home=data_home
    )
    rng = np.random.RandomState(args.seed)
    # The usual protocol: the test set binarized once, with its own seed.
    test_bits = (rng.rand(*test.images.shape) < test.images / 255.0).astype(np.float32)
    train_rows = rng.choice(len(train.images), 10000, replace=False)
    train_bits = (rng.rand(10000, 28, 28) < train.images[train_rows] / 255.0).astype(np.float32)
    subset = np.sort(
        rng.choice(len(test_bits), min(args.iwae_images, len(test_bits)), replace=False)
    )

    started = time.perf_counter()
    model = anovae_images.ImageVAE(
        backend="mnist",
        preset=args.mnist_preset,
        latent_dim=20,
        max_epochs=args.mnist_epochs,
        binarize="dynamic",
        n_mc_samples=10,
        random_state=args.seed,
        verbose=2,
    ).fit(train.images)
    train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    test_elbo = mean_and_error(model.score_samples(test_bits))
    train_elbo = mean_and_error(model.score_samples(train_bits))
    subset_elbo = mean_and_error(model.score_samples(test_bits[subset]))
    model.set_params(n_importance_samples=args.iwae_k, n_mc_samples=1)
    test_ll = mean_and_error(model.score_samples(test_bits[subset]))
    eval_seconds = time.perf_counter() - started

    save_image_grid(model.sample(100, random_state=args.seed), images_dir / "mnist_samples.png")
    started = time.perf_counter()
    flat = anovae_images.ImageVAE(
        backend="mnist",
        preset=args.mnist_preset,
        latent_dim=2,
        max_epochs=args.manifold_epochs,
        random_state=args.seed,
    ).fit(train.images)
    save_manifold(flat.manifold(20), images_dir / "mnist_manifold.png", scale=1)
    manifold_seconds = time.perf_counter() - started

    print(
        f"\n== MNIST, dynamically binarized, Nz=20, preset {args.mnist_preset}, "
        f"{model.n_epochs_} epochs over 60000 images (train {train_seconds:.0f}s, "
        f"evaluation {eval_seconds:.0f}s)"
    )
    print(f"train ELBO (10000 train images)      {train_elbo[0]:8.2f} ± {train_elbo[1]:.2f} nats")
    print(
        f"test ELBO (all 10000)                {test_elbo[0]:8.2f} ± {test_elbo[1]:.2f} nats   "
        f"target >= {TARGET_ELBO:.0f}: {'met' if test_elbo[0] >= TARGET_ELBO else 'NOT met'}"
    )
    print(
        f"test ELBO ({len(subset)} images subset)      {subset_elbo[0]:8.2f} ± {subset_elbo[1]:.2f} nats"
    )
    print(
        f"test log p(x), IWAE K={args.iwae_k} (same {len(subset)}) {test_ll[0]:8.2f} ± {test_ll[1]:.2f} nats   "
        f"target >= {TARGET_LL:.0f}: {'met' if test_ll[0] >= TARGET_LL else 'NOT met'}"
    )
    print(f"published: {AEVB_MNIST}")
    print(f"published: {IWAE_VAE}")
    print(
        f"(± is the standard error over images; 2-D model for the manifold: "
        f"{args.manifold_epochs} epochs, {manifold_seconds:.0f}s)"
    )


def frey(args, data_home, images_dir):
    backend = anovae_images.get_backend("frey-face")
    train, test = backend.load("train", data_home=data_home), backend.load(
        "test", data_home=data_home
    )
    print(
        f"\n== Frey Face, preset paper (200 tanh units), Adam 1e-3, M=100, "
        f"{args.frey_epochs} epochs over {len(train.images)} faces; "
        f"{len(test.images)} held out"
    )
    print(f"{'Nz':>3}  {'train ELBO':>10}  {'held-out ELBO':>13}  {'seconds':>7}")
    for latent_dim in (2, 10):
        started = time.perf_counter()
        model = anovae_images.ImageVAE(
            backend="frey-face",
            preset="paper",
            optimizer="adam",
            learning_rate=1e-3,
            latent_dim=latent_dim,
            max_epochs=args.frey_epochs,
            n_mc_samples=10,
            random_state=args.seed,
        ).fit(train.images)
        seconds = time.perf_counter() - started
        train_elbo = model.score_samples(train.images).mean()
        test_elbo = model.score_samples(test.images).mean()
        print(f"{latent_dim:>3}  {train_elbo:10.1f}  {test_elbo:13.1f}  {seconds:7.0f}", flush=True)
        if latent_dim == 2:
            save_manifold(model.manifold(20), images_dir / "frey_manifold.png", scale=1)
    print(f"published: {AEVB_FREY}")
    print("(nats per image, densities of pixels scaled to [0, 1]; 10 draws per image)")


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    data_home = args.data_home or os.environ.get("ANOVAE_DATA") or DEFAULT_DATA_HOME
    images_dir = Path(args.images_dir)
    images_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"seed {args.seed}, torch threads {args.threads}, torch {torch.__version__}", flush=True)
    frey(args, data_home, images_dir)
    mnist(args, data_home, images_dir)
    print(f"\ntotal {clock(started)}; pictures in {images_dir}")


if __name__ == "__main__":
    main()
