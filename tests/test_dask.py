"""Scoring on a Dask cluster: ``anovae score --dask`` and ``anovae.dask.score_dataframe``.

Every row's score on the cluster equals single-process ``anovae score``'s (to float32
rounding), the model is loaded once per worker, a job that fails leaves no output
folder, and a worker killed mid-job costs nothing but time (issue 13). One
LocalCluster (2 single-threaded worker processes on loopback) serves the module.
"""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("dask.dataframe", reason="needs dask[dataframe] (pip install 'anovae[dask]')")
distributed = pytest.importorskip("distributed", reason="needs distributed (pip install 'anovae[dask]')")

import anovae  # noqa: E402
from anovae import VAE  # noqa: E402
from anovae.cli import cli  # noqa: E402
from anovae.errors import DataError  # noqa: E402

SMALL = dict(max_epochs=2, hidden_layer_sizes=(16,), latent_dim=2, random_state=0)


def _warm_worker():
    import anovae.cli._dask_score  # noqa: F401  (torch, pandas, the task's module)
    import anovae._vae  # noqa: F401

    return os.getpid()


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=50,
    ) as cluster, distributed.Client(cluster) as client:
        client.run(_warm_worker)  # imports once, outside the tests' timings
        yield client


@pytest.fixture
def both_workers(client):
    client.wait_for_workers(2, timeout=60)  # a worker killed by a test comes back
    return client


def table(n, seed=0, start=0):
    rng = np.random.RandomState(seed)
    a = rng.normal(size=n)
    return pd.DataFrame(
        {
            "id": np.arange(start, start + n),
            "a": a.round(4),
            "b": (2 * a + rng.normal(scale=0.1, size=n)).round(4),
            "kind": rng.choice(["x", "y"], n),
            "label": (rng.rand(n) < 0.1).astype(int),
        }
    )


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    vae = VAE(**SMALL).fit(table(400)[["a", "b", "kind"]])
    return anovae.save(vae, folder / "model.anovae")


def write_parts(folder, sizes, suffix=".parquet"):
    folder.mkdir()
    start = 0
    for i, size in enumerate(sizes):
        part = table(size, seed=i + 1, start=start)
        path = folder / f"part-{i}{suffix}"
        part.to_parquet(path, index=False) if suffix == ".parquet" else part.to_csv(path, index=False)
        start += size
    return folder


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result, *fragments, code=1):
    assert result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def read_parts(folder):
    names = sorted(os.listdir(folder))
    return names, pd.concat([pd.read_parquet(folder / name) for name in names], ignore_index=True)


# ---- the command -------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_dask_scores_every_row_like_one_process(tmp_path, both_workers, model, suffix):
    data = write_parts(tmp_path / "data", [300, 250, 10, 240], suffix)
    address = both_workers.scheduler.address
    source = data / f"*{suffix}"
    single = invoke("score", source, "--model", model, "-o", tmp_path / "single.parquet", "--label-column", "label", "--top", "3")
    assert single.exit_code == 0, single.output
    out = tmp_path / "scored"
    result = invoke("score", source, "--model", model, "-o", out, "--dask", address, "--chunksize", "100",
                    "--label-column", "label", "--top", "3")
    assert result.exit_code == 0, result.output
    names, scored = read_parts(out)
    assert names == [f"part-{i:05d}.parquet" for i in range(4)]  # one per input file
    expected = pd.read_parquet(tmp_path / "single.parquet")
    assert scored["id"].tolist() == list(range(800))
    assert list(scored.columns) == ["id", "a", "b", "kind", "label", "anomaly_score", "is_anomaly"]
    assert scored.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    # The draws are fixed at fit: a row's score does not depend on its partition.
    np.testing.assert_allclose(scored["anomaly_score"], expected["anomaly_score"], rtol=1e-6)
    assert (scored["is_anomaly"] == expected["is_anomaly"]).all()
    # The same summary: rows and features, threshold and flags, labels, and the top
    # rows, each named by its file and its row or line there.
    same = [line for line in single.stderr.splitlines() if not line.startswith(("scored with", "wrote"))]
    assert [line for line in result.stderr.splitlines() if not line.startswith(("scored with", "wrote"))] == same
    assert sum(f" of {data}{os.sep}part-" in line for line in same) == 3
    assert "2 worker(s), 4 part(s)" in result.stderr


def test_a_single_file_is_one_part(tmp_path, both_workers, model):
    data = tmp_path / "data.csv"
    table(120).to_csv(data, index=False)
    out = tmp_path / "scored.parquet"
    result = invoke("score", data, "--model", model, "-o", out, "--dask", both_workers.scheduler.address, "-q")
    assert result.exit_code == 0, result.output
    assert read_parts(out)[0] == ["part-00000.parquet"]


def test_the_output_folder_is_refused_or_replaced_like_a_file(tmp_path, both_workers, model):
    data = write_parts(tmp_path / "data", [50, 50])
    address = both_workers.scheduler.address
    out = tmp_path / "scored"
    out.mkdir()
    (out / "old.txt").write_text("keep me")
    result = invoke("score", data, "--model", model, "-o", out, "--dask", address)
    one_line_error(result, "scored", "already exists", "--force")
    assert (out / "old.txt").read_text() == "keep me"
    result = invoke("score", data, "--model", model, "-o", out, "--dask", address, "--force", "-q")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == ["part-00000.parquet", "part-00001.parquet"]
    assert sorted(os.listdir(tmp_path)) == ["data", "scored"]  # no temporary folder left
    # Never the input's own folder, nor one holding it.
    for target in (data, tmp_path):
        result = invoke("score", data, "--model", model, "-o", target, "--dask", address, "--force")
        one_line_error(result, "never overwrites its input", code=2)
    result = invoke("score", data, "--model", model, "--dask", address)
    one_line_error(result, "folder of Parquet parts", code=2)
    result = invoke("score", data, "--model", model, "-o", tmp_path / "x.csv", "--dask", address)
    one_line_error(result, "x.csv", "not a CSV file", code=2)


def test_a_bad_part_fails_in_one_line_and_leaves_no_folder(tmp_path, both_workers, model):
    data = write_parts(tmp_path / "data", [100, 100, 100], ".csv")
    frame = pd.read_csv(data / "part-2.csv")
    frame["a"] = frame["a"].astype(object)
    frame.loc[41, "a"] = "inf"
    frame.to_csv(data / "part-2.csv", index=False)
    result = invoke("score", data, "--model", model, "-o", tmp_path / "scored", "--dask", both_workers.scheduler.address)
    one_line_error(result, "part-2.csv", "column 'a'", "line 43")
    assert sorted(os.listdir(tmp_path)) == ["data"]


def test_a_part_whose_types_disagree_with_the_first_is_one_line(tmp_path, both_workers, model):
    data = write_parts(tmp_path / "data", [100, 100])
    other = pd.read_parquet(data / "part-1.parquet")
    other["label"] = "text"
    other.to_parquet(data / "part-1.parquet", index=False)
    result = invoke("score", data, "--model", model, "-o", tmp_path / "scored", "--dask", both_workers.scheduler.address)
    one_line_error(result, "part-1.parquet", "column 'label'", "part-0.parquet")
    assert sorted(os.listdir(tmp_path)) == ["data"]


def test_a_worker_killed_mid_job_costs_no_row(tmp_path, both_workers, model):
    # 16 parts of 4,000 rows in chunks of 200: long enough to kill a worker mid-job.
    data = write_parts(tmp_path / "data", [4000] * 16)
    pids = list(both_workers.run(os.getpid).values())
    killed = []

    def kill_once_a_part_is_written():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            temporary = [p for p in tmp_path.iterdir() if p.name.startswith(".scored.")]
            if temporary and any(n.startswith("part-") for n in os.listdir(temporary[0])):
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_once_a_part_is_written)
    killer.start()
    result = invoke("score", data, "--model", model, "-o", tmp_path / "scored", "--dask",
                    both_workers.scheduler.address, "--chunksize", "200", "-q")
    killer.join()
    assert killed, "the job ended before a worker could be killed"
    assert result.exit_code == 0, result.output
    names, scored = read_parts(tmp_path / "scored")
    assert len(names) == 16 and scored["id"].tolist() == list(range(64_000))
    assert scored["anomaly_score"].notna().all()
    assert sorted(os.listdir(tmp_path)) == ["data", "scored"]


def test_sigterm_mid_job_leaves_no_folder(tmp_path, both_workers, model):
    data = write_parts(tmp_path / "data", [4000] * 16)
    code = "import sys; from anovae.cli import main; sys.exit(main())"
    args = ["score", data, "--model", model, "-o", tmp_path / "scored", "--dask",
            both_workers.scheduler.address, "--chunksize", "100"]
    process = subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".scored.") for p in tmp_path.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.5)  # parts being written
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "anovae: terminated (SIGTERM); no output written", stderr
    time.sleep(1)  # a cancelled task may still be finishing its part
    assert sorted(os.listdir(tmp_path)) == ["data"]


@pytest.mark.slow
def test_bare_dask_starts_a_local_cluster_of_one_worker_per_core(tmp_path, model):
    data = write_parts(tmp_path / "data", [100, 100])
    result = invoke("score", data, "--model", model, "-o", tmp_path / "scored", "--dask")
    assert result.exit_code == 0, result.output
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert f"on a local Dask cluster, {workers} worker(s), 2 part(s)" in result.stderr
    assert len(read_parts(tmp_path / "scored")[1]) == 200


def test_an_unreachable_scheduler_is_one_line_naming_it(tmp_path, model):
    data = write_parts(tmp_path / "data", [20])
    started = time.monotonic()
    result = invoke("score", data, "--model", model, "-o", tmp_path / "scored", "--dask", "tcp://127.0.0.1:9")
    one_line_error(result, "tcp://127.0.0.1:9", "cannot reach the Dask scheduler")
    assert time.monotonic() - started < 30
    assert sorted(os.listdir(tmp_path)) == ["data"]


@pytest.mark.parametrize("value", ["data/", "not an address"])
def test_a_value_that_is_not_an_address_is_a_usage_error(tmp_path, model, value):
    result = invoke("score", "--dask", value, "--model", model, "-o", tmp_path / "out")
    one_line_error(result, "not a scheduler address", code=2)


# ---- the Python API ------------------------------------------------------------------------
def test_score_dataframe_matches_score_samples_and_loads_the_model_once_per_worker(both_workers):
    import dask.dataframe as dd

    from anovae._shipped_model import ShippedModel
    from anovae.dask import score_dataframe

    frame = table(2000, seed=5)
    vae = VAE(**dict(SMALL, random_state=3)).fit(frame[["a", "b", "kind"]])
    scored = score_dataframe(dd.from_pandas(frame, npartitions=8), vae)
    assert list(scored.columns) == ["id", "a", "b", "kind", "label", "anomaly_score", "is_anomaly"]
    result = both_workers.compute(scored).result()
    np.testing.assert_allclose(result["anomaly_score"], -vae.score_samples(frame[["a", "b", "kind"]]), rtol=1e-6)
    assert (result["is_anomaly"] == (vae.predict(frame[["a", "b", "kind"]]) == -1)).all()
    assert result["id"].tolist() == frame["id"].tolist()
    digest = ShippedModel.of(vae).digest

    def loads_here(digest=digest):
        from anovae._shipped_model import loads

        return loads[digest]

    loads = list(both_workers.run(loads_here).values())
    assert sum(loads) >= 1 and max(loads) == 1, loads  # 8 partitions, at most one load each


def test_score_dataframe_errors(both_workers):
    import dask.dataframe as dd

    from anovae.dask import score_dataframe

    frame = table(100)
    vae = VAE(**SMALL).fit(frame[["a", "b", "kind"]])
    with pytest.raises(DataError, match="lacks column.*'kind'"):
        score_dataframe(dd.from_pandas(frame.drop(columns="kind"), npartitions=2), vae)
    with pytest.raises(DataError, match="already has a column 'anomaly_score'"):
        score_dataframe(dd.from_pandas(frame.assign(anomaly_score=0.0), npartitions=2), vae)
    named = score_dataframe(dd.from_pandas(frame, npartitions=2), vae, score_column="s", flag_column="f")
    assert list(named.columns)[-2:] == ["s", "f"]


def test_importing_anovae_does_not_import_dask():
    code = "import sys, anovae, anovae.dask, anovae.cli; sys.exit('dask' in sys.modules or 'distributed' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
