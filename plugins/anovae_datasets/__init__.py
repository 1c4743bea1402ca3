"""Built-in plugin registering the tabular dataset loaders: NSL-KDD and the ODDS sets."""

from functools import partial

from anovae import hookimpl
from anovae.datasets import ODDS_NAMES, load_nsl_kdd, load_odds


@hookimpl
def register_datasets(register):
    register("nsl-kdd", load_nsl_kdd, "NSL-KDD network intrusion data (Tavallaee et al. 2009)")
    for name in ODDS_NAMES:
        register(
            f"odds:{name}",
            partial(load_odds, name),
            f"ODDS {name} tabular anomaly benchmark (Rayana 2016, via ADBench)",
        )
