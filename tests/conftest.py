"""Shared test setup: point the dataset loaders at the repository's shared data."""

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_configure(config):
    # Before collection, so that requires_data(...) marks see the same folder.
    os.environ.setdefault("ANOVAE_DATA", str(SHARED_DATA))


def requires_data(*relative_paths):
    """Mark a test to be skipped unless these files exist under the data folder.

    Paths are relative to ``anovae.datasets.get_data_home()``, for example
    ``requires_data("nsl-kdd/KDDTest+.txt.gz")``.
    """
    from anovae.datasets import get_data_home

    home = get_data_home()
    missing = [path for path in relative_paths if not (home / path).is_file()]
    return pytest.mark.skipif(
        bool(missing), reason=f"data file(s) missing from {home}: {', '.join(missing)}"
    )


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module's tests, restored after: its small networks
    train and score faster that way, and on a busy shared machine torch's spinning
    worker threads can make them many times slower. A module opts in with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
