"""anovae's VAE against IsolationForest and PyOD's detectors on the 15 ODDS sets.

Every detector keeps its package defaults (only the seed is set): the question is how
well a user does without tuning. For each seed the data are split 60/40, stratified
on the label; the scaler and the detectors see only the training part, labels unused
(anomalies included, as in real unsupervised use), and the test part is scored with
AUROC and average precision.

Selection protocol (how anovae's defaults were chosen, and where they are judged).
The 15 sets of ``odds-dev`` are split in two groups, fixed before any measurement:

- ``CHOSEN_ON``: the original five development sets and every other one of the ten
  added later, in the order of ``odds-dev/README.md`` starting with the second
  (hepatitis, magic.gamma, stamps, wdbc, yeast). Candidate defaults were compared
  on these ten only (``--anovae-params`` runs a candidate).
- ``HELD_OUT``: fault, internetads, spambase, waveform, wpbc. Never used to choose
  anything; the README reports them apart.

Kept: ``score_kl_weight=2`` (scores count the KL term twice; training is
unchanged). The rule, written down after the weights 2, 4 and 8 had been run on
``CHOSEN_ON`` and before any held-out figure: among the weights 1, 2, 4, 8, 16,
the highest mean AUROC on ``CHOSEN_ON`` whose IoT seed-0 AUROC stays within 0.005
of the weight 1's and which keeps the blank-cell tests of ``tests/test_scoring.py``
passing (a fifth of the cells blanked: AUROC within 0.02, normal rows not lifted).

| score_kl_weight | chosen-on AUROC / AP | cardio | magic.gamma | IoT s0 | blank-cell test (AUROC drop) |
|---|---|---|---|---|---|
| 1 (the bound; before) | 0.828 / 0.521 | 0.811 | 0.759 | 0.970 | 0.010, passes |
| **2** | 0.833 / 0.535 | 0.845 | 0.747 | 0.970 | 0.013, passes |
| 4 | 0.837 / 0.547 | 0.879 | 0.728 | 0.970 | 0.021, fails |
| 8 | 0.837 / 0.559 | 0.903 | 0.705 | 0.965 | 0.036, fails |
| 16 | 0.835 / 0.575 | 0.916 | 0.684 | 0.947 | |

Kept: ``n_mc_samples=2`` (was 5), for scoring speed (1.8x). The rule, written
down before the four-decimal figures: the fewest draws among 1, 2 and 3 whose
chosen-on mean AUROC stays within 0.002 of five draws', AP within 0.005, and IoT
seed-0 AUROC within 0.005. Training is unchanged, so one run scored the same
models four ways (3 seeds; the held-out and all-15 columns are reported, not
used; the three-decimal means of all three groups had been printed earlier in
the same session):

| n_mc_samples | chosen-on AUROC / AP | IoT s0 | held-out | all 15 |
|---|---|---|---|---|
| 5 (before) | 0.8330 / 0.5336 | 0.972 | 0.6319 / 0.3379 | 0.7660 / 0.4683 |
| 3 | 0.8329 / 0.5286 | 0.970 | 0.6313 / 0.3335 | 0.7657 / 0.4636 |
| **2** | 0.8323 / 0.5316 | 0.971 | 0.6304 / 0.3393 | 0.7650 / 0.4675 |
| 1 | 0.8297 / 0.5303 | 0.966 | 0.6331 / 0.3367 | 0.7641 / 0.4658 |

Antithetic pairs of draws (each draw and its negative) were also tried, at 2, 4
and 5 draws: 0.8335, 0.8323 and 0.8320 on the chosen-on sets, no better than
independent draws; not kept.

Kept: a numeric column of exactly two values gets the Bernoulli likelihood on
``(x - low) / (high - low)`` under ``likelihood="auto"`` (before, only a column of
0s and 1s did; any other pair of values got a Gaussian with a learned variance, a
spiky density on two points). It matters for binary attributes coded 1/2
(hepatitis, fault, yeast) and for 0/1 columns a StandardScaler has moved, as this
script's does (internetads' 1,555 columns). The rule, written down before the run:
the bar of the candidates below (chosen-on mean AUROC >= 0.836 and AP >= 0.527
over 3 seeds, the IoT sample's seed 0 >= 0.965), then the test suite; the held-out
sets only after the decision.

| | chosen-on AUROC / AP | hepatitis | yeast | IoT s0 | held-out AUROC / AP (after) | internetads (after) |
|---|---|---|---|---|---|---|
| Gaussian on two values (before) | 0.8325 / 0.532 | 0.817 | 0.406 | 0.972 | 0.6300 / 0.339 | 0.650 |
| **Bernoulli on two values** | **0.8363** / 0.534 | 0.852 | 0.409 | 0.972 | 0.6388 / 0.379 | 0.693 |

The other eight chosen-on sets and three held-out sets have no such column and
did not move; nor did the IoT sample (none either). A third value at scoring is
scored as a value never seen (the rule-of-succession probability), as an unseen
category is.

Candidates measured on ``CHOSEN_ON`` (3 seeds) and the IoT sample's seed 0, not
kept: mean AUROC / AP on the ten sets, IoT AUROC beside it (the first four rows
and the Student-t were code patches, the rest ``--anovae-params``; all with the
KL counted once unless marked). The defaults then gave 0.828 / 0.521 and 0.970.

| candidate | chosen-on | IoT s0 | note |
|---|---|---|---|
| floor on the learned log-variance -4 / -3 / -2 (default -6) | 0.827 / 0.825 / 0.822 | | |
| contaminated Gaussian, weight 0.001 / 0.01 / 0.02 / 0.05 / 0.1 of N(0, 1) | 0.828 / 0.836 / 0.838 / 0.836 / 0.835 | - / 0.799 / - / 0.780 / - | cardio 0.90-0.91 |
| the same, broad part N(mean, (10 sd)^2), weight 0.01 | | 0.889 | |
| most frequent value of a column (share >= 0.5 / 0.3) as its own 0/1 column | 0.826 / 0.823 | | |
| IWAE bound K = 2 / 3 / 5 / 10, one repetition | 0.827 / 0.828 / 0.827 / 0.828 | 0.971 / 0.971 / 0.973 / - | |
| activation elu / tanh | 0.816 / 0.828 | | |
| latent_dim 4 / 16; layers (128, 64) | 0.814 / 0.826; 0.816 | | |
| beta 0.5 / 1.25 / 1.5 / 2 | 0.823 / 0.833 / 0.836 / 0.835 | - / 0.959 / 0.934 / 0.874 | AP 0.517 / 0.537 / 0.546 / 0.550 |
| Student-t likelihood, degrees of freedom learned per column from 30 / 5 | 0.824 / 0.823 | | AP 0.521 / 0.532 |
| three VAEs (seeds) averaged / five on half the rows each | 0.828 / - | | stopped after the first |
| ``noise_std="cell"`` (the decoder gives each cell its variance), KL twice | 0.834 / 0.56 | 0.958 | default then 0.833 / 0.53; rule set before the run: at least 0.836 and IoT 0.965 |
| the column's variance times exp(c tanh(decoder output)), c = 1 / 2 (code patch), KL twice | 0.830 / 0.54 both | 0.955 / 0.954 | same rule; not kept |
| ``trim_fraction`` 0.1 / 0.05 (default 0.2), KL twice | 0.815 / 0.47; 0.811 / 0.46 | 0.976 / 0.952 | same rule; not kept |
| ``trim_fraction`` 0.3 / 0.25, KL twice, 2 draws | 0.825 / 0.51; 0.831 / 0.53 | | default then 0.833 / 0.53; rule: at least 0.836, AP 0.527 |
| ``learning_rate`` 3e-3 / 5e-4 / 3e-4 (default 1e-3) | 0.820 / 0.52; 0.832 / 0.54; 0.834 / 0.54 | | same rule; not kept |
| ``weight_decay`` 1e-4 / 3e-4 / 1e-3 (default 0); 1e-4 with lr 3e-4 | 0.834 / 0.53; 0.832 / 0.54; 0.834 / 0.53; 0.834 / 0.54 | | same rule; not kept |
| ``latent_dim`` 12; ``activation`` leaky_relu; ``validation_fraction`` 0.2; ``n_iter_no_change`` 20 | 0.828; 0.832; 0.829; 0.833 (unchanged) | | same rule; not kept |
| step budget (``anovae/_budget.py``, code patches): at most 25 / 100 / 15 / 10 passes over a table (default 50); batches of at least 32 rows (default 64); 6000 steps (default 3000) | 0.835 / 0.54; 0.828 / 0.53; 0.834 / 0.54; **0.837** / 0.54; 0.829 / 0.53; 0.833 / 0.53 | 10 passes: 0.858 | default then 0.8325 / 0.532; same rule; 10 passes under-trains the 4,000-row sample (broken_physics 0.62): not kept |
| trimming after a warm-up (code patch): the first 10% / 25% / 50% of the step budget untrimmed, then ``trim_fraction`` | 0.823 / 0.51; 0.818 / 0.51; 0.813 / 0.50 | 0.964 / 0.959 / 0.979 | default then 0.8325 / 0.532, IoT 0.972; rule written before the run: at least 0.836, AP 0.527, IoT 0.965: not kept (pendigits 0.918 -> 0.889 / 0.835 / 0.801, satellite 0.765 -> 0.71) |
| weights averaged over the steps (``ema_horizon``; first as a code patch): a fixed decay per step 0.99 / 0.995 (average started at the first step); 0.998 (bias-corrected); a horizon of 10% / 25% of the step budget (bias-corrected) | 0.8343 / 0.542; 0.8358 / 0.542; **0.8378** / 0.546; 0.8321 / 0.530; 0.8373 / 0.542 | 0.971 / 0.970; 0.969; 0.970 / 0.966 | same rule, two rounds each written before its runs. 0.998 won, then failed a behaviour test (600 steps on 8,000 telemetry rows ranked at AUROC 0.85, not above 0.9: a fixed decay averages a short run's early weights); 25% of the budget replaced it on the condition, written down first, that the test suite pass, and it did not (a 0/1 column holding 2, -1 or 7.5 was flagged in 88% of rows, not 95%). Not kept; ``ema_horizon`` stays, off by default. Held-out, run after each decision: 0.998 0.6226 / 0.340, 25% 0.6282 / 0.346, against 0.6300 / 0.339 |
| scores at the posterior mean (code patch): one decoder pass at z = mu (draw fixed at 0) instead of two random draws, missing-cell offsets alike | 0.8334 / 0.534 | 0.973 | same rule as the rows above, written before the run: not kept. It is no worse and would halve the decoder's work at scoring, but it is not an estimate of the ELBO, which ``score_samples`` documents |
| three VAEs at the defaults (seeds seed x 1000 + 0, 1, 2) fitted on the same rows, their ``score_samples`` averaged (a script, not a patch) | 0.8317 / 0.527 | 0.950 | same rule, written before the run: not kept (fit 1.90 s against 0.63; the script's one-model run gave the defaults' 0.8325 / 0.532 and the command line's 0.972) |
| dequantized training (code patch): a standardized column whose distinct values lie on a grid gets uniform noise of one grid step added in every training minibatch (the density of x + u, as for discrete data in density models), so its learned variance cannot settle on repeated values; scoring unchanged | 0.8323 / 0.542 | 0.961 | same rule, written before the run: not kept (hepatitis 0.817 -> 0.854, stamps 0.917 -> 0.930; pendigits 0.918 -> 0.897, cardio 0.848 -> 0.839) |
| a numeric column of 3 to 10 distinct values made categorical (its values as categories, a new value never seen; code patch, on top of the two-valued Bernoulli columns) | 0.8346 / 0.531 | 0.972 | default then 0.8363 / 0.534; rule written before the run: at least 0.840, AP 0.529, IoT 0.967: not kept (cardio 0.848 -> 0.838, yeast 0.409 -> 0.401) |
| cosine decay of the learning rate over the step budget, lr (1 + cos(pi t / T)) / 2 (code patch) | 0.8392 / 0.543 | 0.961 | same rule as the row above, written before the run: not kept (cardio 0.848 -> 0.878, stamps 0.917 -> 0.946; pageblocks 0.965 -> 0.953; the IoT sample below its bar) |
| KL warm-up (Bowman et al. 2016; code patch): the training loss's KL weight rises linearly from 0 to ``beta`` over the first 10% / 30% of the step budget | 0.8288 / 0.517; 0.8276 / 0.518 | 0.968 / 0.949 | same rule, written before the run: not kept (pendigits 0.918 -> 0.881 / 0.841) |
| ``input_masking`` 0.1 / 0.2 (then 0.3, written down after those two) | 0.8321 / 0.540; 0.8377 / 0.548; 0.8385 / 0.549 | 0.950 / 0.951 / 0.948 | same rule: not kept (cardio up to 0.871 and pendigits to 0.956, but the IoT sample falls: an encoder that learns to do without some cells blurs the relations its anomalies break) |
| ``score_kl_weight`` 3 (the kept rule's grid was 1, 2, 4, 8, 16) | 0.8386 / 0.542 | 0.971 | same rule: not kept |
| ``input_masking`` 0.2 with ``score_kl_weight`` 3 (the two that lifted cardio) | 0.8398 / 0.552 | 0.946 | same rule: not kept |
| ``early_stopping=False`` (every row trains, the whole budget runs); ``hidden_layer_sizes`` (32, 16) | 0.8317 / 0.527; 0.8358 / 0.535 | | same rule: not kept (IoT not run) |
| a latent-density term (a script scoring the defaults' models): a full-covariance Gaussian fitted on the training rows' posterior means (all rows, or the 80% with the best score), its log-density at the row's mean added to the score (weight 1 / 0.5), or in place of the second KL copy (weight 1 / 2) | 0.8344 / 0.528; 0.8356 / 0.530 (the 80%: 0.8344 / 0.535); in place: 0.8313 / 0.518; 0.8288 / 0.511 | | same rule: not kept (cardio 0.848 -> 0.866-0.883, but hepatitis and stamps fall; the script's default column gave 0.8363 / 0.534, as the benchmark) |
| soft trimming (code patch): the trimmed rows keep weight 0.05 / 0.1 / 0.2 instead of 0; then weight 0.1 only for the first 30% of the step budget (hard after), or only after the first 50% | 0.8253 / 0.495; 0.8289 / 0.499; 0.8230 / 0.488; 0.8307 / 0.519; 0.8326 / 0.506 | 0.963 / 0.972 / 0.963; 0.958; 0.963 | rule written before the runs: at least 0.8343 (the default's 0.8363 less 0.002), AP 0.529, IoT 0.967, and a 20,000-row sample of seed 5 (never reported) with every kind ahead of IsolationForest. Why tried: hard trimming leaves out a normal regime from the first steps (the 20,000-row sample's standby smart plugs, 13% of its rows, score a median 140.8 against 41.8; README). Every variant fixed the seed-5 sample (AUROC 0.866 -> 0.966-0.986, type_mimicry 0.872 -> 0.998-1.000 against IsolationForest's 0.943) and lost on the ODDS sets (satellite 0.765 -> 0.707-0.734, pendigits 0.918 -> 0.852-0.901): not kept |
| cosine decay of the learning rate to a floor of 10% of it (code patch); validation checks every 50 steps instead of 100 (patience in checks unchanged) | 0.8391 / 0.541; 0.8364 / 0.531 | 0.966; 0.960 | same bar as the rows before the soft trimming (0.840, AP 0.529, IoT 0.967), written before the runs: not kept (the decay misses by 0.0009 and, on the IoT sample, 0.0007: cardio 0.848 -> 0.876, stamps 0.917 -> 0.945, pageblocks 0.965 -> 0.955) |
| ``latent_dim`` from the table's width, max(2, min(8, ceil(d / 2))) (code patch; changes pageblocks, thyroid, stamps, magic.gamma, yeast and the IoT sample) | 0.8366 / 0.537 | 0.962 | same bar, written before the run: not kept |
| ``ema_horizon`` 0.25 / 0.1 (the parameter, off by default), judged with the model's seed moved (offsets 0, 100, 200, 300; the defaults: 0.8363 / 0.8295 / 0.8355 / 0.8331, mean 0.8336, AP 0.535) | 0.8415 / 0.8323 / 0.8375 / 0.8379, mean 0.8373, AP 0.546; 0.8301-0.8367, mean 0.8343 | 0.966 (seeds 0-3: 0.966 / 0.959 / 0.961 / 0.945, mean 0.958); 0.970 (mean 0.957); the defaults 0.972 (0.972 / 0.931 / 0.963 / 0.939, mean 0.951) | rule written before the runs: mean at least 0.8366, AP 0.530, the README command's IoT AUROC (seed 0) at least 0.967 and its mean over seeds 0-3 at most 0.005 below the defaults'. 0.25 passes every clause but the seed-0 IoT one, by 0.001 (that figure ranges 0.931-0.972 over model seeds at the defaults): not kept; a rule that judges the sample by its seed mean would keep it. A replication written before its runs (fresh model seeds for the ODDS sets, fresh IoT samples of data seeds 4-7 at model seed 0: mean within 0.005 of the defaults', no more kinds behind IsolationForest) failed on the samples: 0.965 / 0.965 / 0.934 / 0.955 (mean 0.95487) against the defaults' 0.969 / 0.960 / 0.936 / 0.975 (0.95989), 0.00003 short of the bar; no kind behind for either. Held-out not run |
| three VAEs at the defaults (model seeds s, s + 100, s + 200) fitted on the same rows, their ``score_samples`` combined per row by log-mean-exp (the density of their equal mixture), by the mean, or by the mean rank (a script) | log-mean-exp 0.8335 / 0.525; mean 0.8366 / 0.533; rank 0.8344 / 0.528 (the three members alone: 0.8363 / 0.8295 / 0.8355, mean 0.8338 / 0.533) | log-mean-exp: model seeds {0, 1, 2} 0.982, {3, 4, 5} 0.983 (members 0.931-0.988) | rule written before the run: at least the members' mean + 0.003 (0.8368) and their AP, both IoT ensembles at least 0.967, and every kind ahead of IsolationForest on the 20,000-row sample of seed 5. Tried because the IoT sample's spread comes from a normal regime that trimming leaves out in some seeds and not others: in the mixture a row is normal if one member explains it, and there it works (20,000 rows, seed 5: every kind ahead for each of three groups of members, type_mimicry 0.975 / 0.992 / 0.997 against 0.943). On the ODDS sets it does nothing: fails the first clause (the mean by 0.0002): not kept, at three times the fitting and scoring time. Held-out, run after the decision: log-mean-exp 0.6316, mean 0.6424, the members 0.6388 / 0.6332 / 0.6407 |
| a linear warm-up of the learning rate over the first 5% / 10% of the step budget (code patch) | model-seed offsets 0 / 100 / 200: 0.8363 / 0.8300 / 0.8293, mean 0.8319; 0.8267 / 0.8333 / 0.8297, mean 0.8299 | model seeds 0-3: 0.968 / 0.949 / 0.970 / 0.960, mean 0.962; 0.965 / 0.919 / 0.982 / 0.962, mean 0.957 (the defaults' mean 0.951) | rule written before the runs: the 3-offset mean at least the defaults' 0.8338 + 0.003, the IoT sample's seed mean at least the defaults', and no more kinds behind IsolationForest on the 20,000-row sample of seed 5 (warm-up: 0.970 and 0.966, none behind; the defaults one). Fails the first clause (pendigits 0.895 -> 0.874 / 0.853 over the offsets): not kept. Like the soft trimming, what lets the model learn the regime that trimming left out also lets it learn pendigits' anomalies |
| the encoder's input clipped per column to the [q, 1 - q] quantiles of the training rows (standardized Gaussian columns; the likelihood still scores the true value, so the score is still an ELBO), q = 0.01 / 0.05 (code patch) | model-seed offsets 0 / 100 / 200: 0.8371 / 0.8298 / 0.8355, mean 0.8341; 0.8411 / 0.8330 / 0.8389, mean 0.8377, AP 0.547 | q = 0.05, model seeds 0-3: 0.986 / 0.977 / 0.980 / 0.915, mean 0.9645 (the defaults, same run: 0.979 / 0.949 / 0.977 / 0.977, mean 0.9705) | rule written before the runs: the 3-offset mean at least 0.8368 and AP 0.5334, the README's IoT file over model seeds 0-3 at least the defaults' mean, no more kinds behind IsolationForest on the 20,000-row samples of data seeds 5-7 (model seed 0). Tried because a ReLU encoder follows a marginal extreme out of range and the decoder partly reconstructs it (cardio 0.848 -> 0.888, thyroid 0.953 -> 0.960 at q = 0.05). q = 0.05 passes the ODDS and 20,000-row clauses (none behind, as the defaults) and fails the IoT mean (model seed 3: broken_physics 0.949 -> 0.783): not kept. Held-out, run after the decision: 0.6358 / 0.6301 / 0.6378, mean 0.6346, against the defaults' 0.6376 |

How noisy the chosen-on figure is (measured after the candidates above): the
defaults with the model's seed moved (``VAE(random_state=seed + offset)``, the
splits unchanged) give 0.8363 (offset 0, the figure every rule compared with),
0.8295 (100), 0.8355 (200) and 0.8331 (300): mean 0.8336, sd 0.003; pendigits
alone ranges 0.855-0.918. A candidate's margin of 0.003-0.004, the bars above,
is about one sd of this noise, and the defaults' own 0.8363 is at the lucky end.
The held-out sets, measured the same way for reporting (never for choosing):
0.6388 / 0.6332 / 0.6407 / 0.6262, mean 0.6347 (waveform 0.747-0.836, wpbc
0.581-0.615), against IsolationForest's 0.6210 at its seed-0 forests.

The cap on what trimming takes from a large group of rows sharing their
categorical values (kept on the IoT samples, ``benchmarks/iot_sample.py``) leaves
every figure here as it was: none of the 15 sets has a categorical column (the
chosen-on mean stayed 0.8363 / 0.534). The IoT figures of the candidate rows
above were measured before it, with each batch trimmed as one group.

A robust likelihood caps what one cell can cost, which rescues cardio (two nearly
constant columns sit at the variance floor with the largest per-cell costs) but blunts the relation-breaking
anomalies of the IoT sample. beta = 1.25 was tried as a default and taken back:
the IoT sample's other seeds (used for reporting only) fell to 0.926 / 0.910 /
0.949 and type_mimicry on seed 1 below IsolationForest (0.966 vs 0.977). The
IWAE bound with K = 3 and one repetition matches the default at 3/5 of the
decoder passes (1.4x faster scoring); not adopted this release.

Run from the repository root::

    python benchmarks/odds.py                       # 15 sets, 3 seeds, 6 detectors
    python benchmarks/odds.py --group held-out      # the five held-out sets only
    python benchmarks/odds.py --detectors anovae IForest --seeds 0
    python benchmarks/odds.py --group chosen-on --detectors anovae \\
        --anovae-params '{"learning_rate": 0.003}'  # a candidate default

The data folder is ``--data-home``, else ``$ANOVAE_DATA``, else ``../shared/data``
next to the repository; it must hold ``odds-dev/``. The PyOD peers need the
``bench`` extra (``pip install -e ".[bench]"``); without it they are skipped.
"""

import argparse
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

DEFAULT_DATA_HOME = Path(__file__).resolve().parents[1].parent / "shared" / "data"

CHOSEN_ON = (
    "cardio", "pageblocks", "pendigits", "satellite", "thyroid",
    "hepatitis", "magic.gamma", "stamps", "wdbc", "yeast",
)
HELD_OUT = ("fault", "internetads", "spambase", "waveform", "wpbc")
GROUPS = {"all": CHOSEN_ON + HELD_OUT, "chosen-on": CHOSEN_ON, "held-out": HELD_OUT}
DETECTORS = ("anovae", "IForest", "ECOD", "KNN", "PyOD AE", "PyOD VAE")


def build(name, seed, anovae_params):
    """(model, anomaly score function); a higher anomaly score is more anomalous.

    sklearn and anovae score the other way round (low = abnormal), hence the minus;
    PyOD's ``decision_function`` is already "higher is more anomalous".
    """
    if name == "anovae":
        from anovae import VAE

        return VAE(random_state=seed, **anovae_params), lambda m, X: -m.score_samples(X)
    if name == "IForest":
        from sklearn.ensemble import IsolationForest

        return IsolationForest(random_state=seed), lambda m, X: -m.score_samples(X)
    pyod_score = lambda m, X: m.decision_function(X)  # noqa: E731
    if name == "ECOD":
        from pyod.models.ecod import ECOD

        return ECOD(), pyod_score
    if name == "KNN":
        from pyod.models.knn import KNN

        return KNN(), pyod_score
    # verbose=0 only silences the progress bars; random_state varies the run with
    # the seed like the others (PyOD would otherwise always use 42).
    if name == "PyOD AE":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(random_state=seed, verbose=0), pyod_score
    if name == "PyOD VAE":
        from pyod.models.vae import VAE as PyODVAE

        return PyODVAE(random_state=seed, verbose=0), pyod_score
    raise ValueError(name)


def run_one(job):
    """Fit one detector on one split; return (dataset, seed, detector, auroc, ap, seconds)."""
    dataset, seed, detector, data_home, anovae_params = job
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from anovae.datasets import load_odds

    bunch = load_odds(dataset, data_home=data_home)
    X_train, X_test, _, y_test = train_test_split(
        bunch.data, bunch.target, test_size=0.4, stratify=bunch.target, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    model, anomaly_score = build(detector, seed, anovae_params)
    started = time.perf_counter()
    model.fit(X_train)
    seconds = time.perf_counter() - started
    score = anomaly_score(model, X_test)
    return dataset, seed, detector, roc_auc_score(y_test, score), average_precision_score(y_test, score), seconds


def pyod_available():
    try:
        import pyod  # noqa: F401
    except ImportError:
        return False
    return True


def print_table(names, detectors, table):
    """Per dataset and detector: AUROC (AP); then group means and fit seconds."""
    width = 14
    print(f"{'dataset':<12}" + "".join(f"{d:>{width}}" for d in detectors))
    print("-" * (12 + width * len(detectors)))
    for name in names:
        cells = "".join(f"{table[name][d][0]:>8.3f} {table[name][d][1]:.2f}" for d in detectors)
        print(f"{name:<12}{cells}")


def group_means(names, detectors, table):
    return {d: np.mean([table[n][d] for n in names], axis=0) for d in detectors}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("ANOVAE_DATA") or DEFAULT_DATA_HOME)
    parser.add_argument("--group", choices=GROUPS, default="all")
    parser.add_argument("--datasets", nargs="+", help="instead of --group")
    parser.add_argument("--detectors", nargs="+", choices=DETECTORS, default=list(DETECTORS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--anovae-params", default="{}", help="JSON of VAE parameters to try")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (one torch thread each)")
    args = parser.parse_args(argv)
    names = tuple(args.datasets or GROUPS[args.group])
    detectors = list(args.detectors)
    if not pyod_available():
        skipped = [d for d in detectors if d not in ("anovae", "IForest")]
        if skipped:
            print(f"skipped (pyod not importable; pip install -e '.[bench]'): {', '.join(skipped)}")
        detectors = [d for d in detectors if d in ("anovae", "IForest")]
    params = json.loads(args.anovae_params)

    jobs = [(n, s, d, str(args.data_home), params) for n in names for s in args.seeds for d in detectors]
    # The largest sets first, so the pool does not end on one long job.
    jobs.sort(key=lambda job: job[0] not in ("magic.gamma", "internetads"))
    started = time.perf_counter()
    results = {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for dataset, seed, detector, auroc, ap, seconds in pool.map(run_one, jobs):
            results.setdefault(dataset, {}).setdefault(detector, []).append((auroc, ap, seconds))
    table = {n: {d: np.mean(results[n][d], axis=0) for d in detectors} for n in names}

    print(f"ODDS, stratified 60/40 split, mean over seeds {args.seeds}; package defaults"
          + (f"; anovae with {params}" if params else ""))
    print(f"Selection protocol: defaults chosen on {', '.join(CHOSEN_ON)};")
    print(f"held out (never used to choose): {', '.join(HELD_OUT)}\n")
    print("AUROC and AP per dataset")
    print_table(names, detectors, table)
    print()
    print(f"{'mean over':<22}" + "".join(f"{d:>14}" for d in detectors))
    for label, group in (("chosen-on sets", CHOSEN_ON), ("held-out sets", HELD_OUT), ("all listed sets", names)):
        group = [n for n in group if n in names]
        if not group:
            continue
        means = group_means(group, detectors, table)
        print(f"{label + f' ({len(group)})':<22}" + "".join(f"{means[d][0]:>8.3f} {means[d][1]:.2f}" for d in detectors))
    means = group_means(names, detectors, table)
    print(f"{'fit seconds (mean)':<22}" + "".join(f"{means[d][2]:>14.2f}" for d in detectors))

    if "anovae" in detectors and "IForest" in detectors:
        print("\nanovae against IForest, per set (AUROC difference):")
        gaps = {n: table[n]["anovae"][0] - table[n]["IForest"][0] for n in names}
        print("  " + ", ".join(f"{n} {g:+.3f}" for n, g in gaps.items()))
        worst = min(gaps, key=gaps.get)
        print(f"  worst: {worst} {gaps[worst]:+.3f} (target: no set below -0.10)")
        for label, group in (("held-out", HELD_OUT), ("all", names)):
            group = [n for n in group if n in names]
            if group:
                ours = np.mean([table[n]["anovae"][0] for n in group])
                best_peer = max(
                    (np.mean([table[n][d][0] for n in group]), d) for d in detectors if d != "anovae"
                )
                margin = ours - np.mean([table[n]["IForest"][0] for n in group])
                print(f"  {label}: anovae {ours:.3f}, IForest margin {margin:+.3f} (target +0.02), "
                      f"best peer {best_peer[1]} {best_peer[0]:.3f}")
    print(f"\ntotal time {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
