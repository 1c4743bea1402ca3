"""Data-parallel training: ``anovae fit --nproc 2`` and ``torchrun ... -m anovae fit``.

Two gloo processes on the CPU rendezvous on loopback (127.0.0.1, a free port).
Each run starts real processes (each imports torch), so there are only three:
a 2-process fit compared with one process, the same fit rerun under torchrun
(same model, to the bit), and a fit in which one process meets bad data.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

import anovae
from anovae import VAE
from anovae.cli import cli
from anovae.cli._launch import free_port, reporting_process
from scale_data import telemetry, write_parquet_parts

torch_distributed = pytest.importorskip("torch.distributed")
pytestmark = pytest.mark.skipif(not torch_distributed.is_available(), reason="this torch build has no torch.distributed")

STEPS = "600"


def anovae_fit(*args, launcher=("-m", "anovae")):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, *launcher, "fit", *map(str, args)], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """8,000 rows of telemetry as 8 Parquet files of 10 row groups (80 pieces to share out)."""
    frame, labels = telemetry(8000, seed=0)
    folder = write_parquet_parts(frame.assign(label=labels), tmp_path_factory.mktemp("ddp") / "parts", 1000, 100)
    return folder, frame, labels


@pytest.fixture(scope="module")
def two_process_model(data, tmp_path_factory):
    folder, _, _ = data
    path = tmp_path_factory.mktemp("models") / "ddp.anovae"
    done = anovae_fit(folder, "--model-out", path, "--nproc", "2", "--steps", STEPS, "--exclude", "label", "--quiet")
    assert done.returncode == 0, done.stderr
    return path


def test_two_processes_train_a_model_that_ranks_like_one_process(data, two_process_model):
    _, frame, labels = data
    model = anovae.load(two_process_model)
    single = VAE(max_steps=int(STEPS), random_state=0).fit(frame)
    auroc_ddp = roc_auc_score(labels, -model.score_samples(frame))
    auroc_single = roc_auc_score(labels, -single.score_samples(frame))
    assert auroc_single > 0.9
    assert abs(auroc_ddp - auroc_single) <= 0.01, (auroc_ddp, auroc_single)
    # One model, trained by both: the global batch (128 rows) split in two, the same
    # step budget, and the history's totals summed over both processes.
    assert model.n_steps_ == int(STEPS) and model.training_budget_ == single.training_budget_
    assert model.history_[-1]["step"] == int(STEPS)


def test_torchrun_rerun_with_the_same_seed_gives_the_same_model(data, two_process_model, tmp_path):
    folder, frame, _ = data
    path = tmp_path / "torchrun.anovae"
    port = free_port()
    done = anovae_fit(
        folder, "--model-out", path, "--steps", STEPS, "--exclude", "label", "--quiet",
        launcher=("-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
                  "--master-port", str(port), "-m", "anovae"),
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(
        anovae.load(path).score_samples(frame), anovae.load(two_process_model).score_samples(frame)
    )


def test_bad_data_in_one_process_is_one_line_and_stops_both(data, tmp_path):
    folder, frame, labels = data
    bad = frame.assign(label=labels)
    # Row 150 is in the second row group of the first file: the second process's share.
    bad.loc[150, "s3"] = np.inf
    parts = write_parquet_parts(bad.iloc[:2000], tmp_path / "bad", 1000, 100)
    model = tmp_path / "m.anovae"
    done = anovae_fit(parts, "--model-out", model, "--nproc", "2", "--steps", "5", "--exclude", "label")
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert errors == [f"Error: {parts / 'part-0000.parquet'}: column 's3' has an infinite value on row 151"]
    assert not model.exists()


def test_the_error_shown_is_the_one_a_failing_process_sent():
    # Process 0 stopped first, only because process 1 failed: process 1's line is shown.
    assert reporting_process(0, {1: "t.csv: column 'a' has an infinite value on line 9"}) == 1
    assert reporting_process(1, {0: "first", 1: "second"}) == 1
    assert reporting_process(0, {}) is None


def test_nproc_under_torchrun_is_a_usage_error(data, tmp_path, monkeypatch):
    folder, _, _ = data
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = CliRunner().invoke(cli, ["fit", str(folder), "--model-out", str(tmp_path / "m"), "--nproc", "2"])
    assert result.exit_code == 2
    assert "under torchrun leave it out" in result.output


def test_python_dash_m_anovae_is_the_command_line():
    done = subprocess.run([sys.executable, "-m", "anovae", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("anovae")
