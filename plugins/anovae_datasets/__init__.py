"""Built-in plugin registering the tabular dataset loaders: NSL-KDD, the ODDS sets, donors."""

from functools import partial

from anovae import hookimpl
from anovae.plugins import Lazy


@hookimpl
def register_datasets(register):
    # Imported here, not at the top: loading the plugin manager (for `anovae --help`)
    # imports every built-in plugin module, and the loaders need NumPy and pandas.
    from anovae.datasets import ODDS_NAMES

    register(
        "nsl-kdd",
        Lazy("anovae.datasets:load_nsl_kdd"),
        "NSL-KDD network intrusion data (Tavallaee et al. 2009)",
    )
    for name in ODDS_NAMES:
        register(
            f"odds:{name}",
            partial(Lazy("anovae.datasets:load_odds"), name),
            f"ODDS {name} tabular anomaly benchmark (Rayana 2016, via ADBench)",
        )
    register(
        "donors",
        Lazy("anovae.datasets:load_donors"),
        "KDD Cup 2014 donors, 619k rows x 10 (via ADBench)",
    )
