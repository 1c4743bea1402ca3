"""Options shared by ``detect`` and ``fit``: how to choose features and train the VAE."""

import functools
import warnings
from dataclasses import dataclass, fields

import click
from click.core import ParameterSource

from ..errors import AnovaeError, PluginError, one_line_reason

# NumPy, torch (_device) and scikit-learn (thresholds) are imported by the functions
# that need them: the commands' option declarations must import nothing heavy, so
# that `anovae COMMAND --help` answers at once.

__all__ = ["Training", "training_options", "device_option", "given", "parse_threshold_params"]


@dataclass
class Training:
    """The training options of one command invocation."""

    exclude: tuple
    label_column: str
    threshold: str
    threshold_param: tuple
    contamination: float
    epochs: int
    steps: int
    input_masking: float
    trim_fraction: float
    score_kl_weight: float
    latent_dim: int
    device: str
    seed: int


def _check_finite(ctx, param, value):
    # click's FloatRange lets NaN through: every comparison with it is False.
    if value is not None and value != value:
        raise click.BadParameter(f"{value!r} is not a number")
    return value


def _check_threshold(ctx, param, value):
    if value is None:
        return None
    from ..thresholds import get_threshold_strategy

    try:
        get_threshold_strategy(value)
    except PluginError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def _check_device(ctx, param, value):
    if value is None:
        return None
    from .._device import resolve_device

    try:
        resolve_device(value)
    except AnovaeError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def device_option(default="auto"):
    return click.option(
        "--device",
        default=default,
        metavar="DEVICE",
        show_default=default is not None,
        callback=_check_device,
        help="Torch device: 'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1'...",
    )


_OPTIONS = [
    click.option(
        "--exclude",
        multiple=True,
        metavar="COL",
        help="Leave this column out of the features (ids, timestamps); repeatable. "
        "It is still copied to the output.",
    ),
    click.option(
        "--label-column",
        metavar="COL",
        help="Column of known labels (two classes): kept out of the features, and "
        "AUROC, AP and F1 of the result are printed.",
    ),
    click.option(
        "--threshold",
        metavar="NAME",
        callback=_check_threshold,
        help="Threshold strategy turning scores into flags (see 'anovae thresholds'). "
        "Default: a data-driven one, unless --contamination is given.",
    ),
    click.option(
        "--threshold-param",
        multiple=True,
        metavar="KEY=VALUE",
        help="A parameter of the --threshold strategy, e.g. k=2.5; repeatable.",
    ),
    click.option(
        "--contamination",
        type=click.FloatRange(0, 0.5, min_open=True),
        callback=_check_finite,
        metavar="FLOAT",
        help="Expected share of anomalies, in (0, 0.5]: flag that share of the "
        "training rows. An alternative to --threshold.",
    ),
    click.option(
        "--epochs",
        type=click.IntRange(min=1),
        metavar="N",
        default=None,
        help="At most N passes over the data (default: no cap; training runs for "
        "--steps gradient steps or stops early when it stalls).",
    ),
    click.option(
        "--steps",
        type=click.IntRange(min=1),
        metavar="N",
        default=None,
        help="Gradient-step budget (default: chosen from the number of rows, see "
        "VAE's max_steps).",
    ),
    click.option(
        "--input-masking",
        type=click.FloatRange(0, 1, max_open=True),
        callback=_check_finite,
        metavar="SHARE",
        default=0.0,
        show_default=True,
        help="Share of cells hidden from the encoder at each training step, so that "
        "it learns to place rows from part of their cells (see VAE's input_masking; "
        "scoring already searches for the code that explains a row's observed cells).",
    ),
    click.option(
        "--trim-fraction",
        type=click.FloatRange(0, 1, max_open=True),
        callback=_check_finite,
        metavar="SHARE",
        default=None,
        help="Share of each training batch's worst-explained rows left out of the "
        "gradient, so that anomalies in the training data are not learned (default: "
        "VAE's trim_fraction, 0.2); a group of rows sharing their text values that holds "
        "more than that share loses at most its own share. 0 trains on every row: use it "
        "when a rare but normal regime (a standby state, a night shift) is flagged wholesale.",
    ),
    click.option(
        "--score-kl-weight",
        type=click.FloatRange(min=1),
        callback=_check_finite,
        metavar="W",
        default=None,
        help="How many times a row's score counts its KL term (how atypical its latent "
        "code is); 1 scores with the evidence lower bound itself (default: VAE's "
        "score_kl_weight).",
    ),
    click.option(
        "--latent-dim",
        type=click.IntRange(min=1),
        metavar="N",
        default=8,
        show_default=True,
        help="Dimension of the VAE's latent space.",
    ),
    device_option(),
    click.option(
        "--seed",
        type=click.IntRange(0, 2**32 - 1),
        metavar="INT",
        default=0,
        show_default=True,
        help="Random seed: the same data and seed give the same scores.",
    ),
]


def training_options(command):
    """Add the training options to a command; it receives them as ``training=Training``."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        training = Training(**{field.name: kwargs.pop(field.name) for field in fields(Training)})
        return command(*args, training=training, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def given(ctx, name):
    """Whether the user set option ``name`` (on the command line or from the environment)."""
    source = ctx.get_parameter_source(name)
    return source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def _parse_value(text):
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_threshold_params(name, pairs):
    """Turn ``("k=2.5", ...)`` into keyword arguments of strategy ``name``.

    Unknown keys and values the strategy rejects are usage errors, raised before
    any training.
    """
    if pairs and name is None:
        raise click.BadParameter("needs --threshold NAME", param_hint="'--threshold-param'")
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="'--threshold-param'")
        params[key.strip()] = _parse_value(value)
    if name is None:
        return params
    known = _strategy_parameters(name)
    for key in params:
        if known is not None and key not in known:
            listed = ", ".join(known) or "none"
            raise click.BadParameter(
                f"threshold strategy {name!r} has no parameter {key!r} (it has: {listed})",
                param_hint="'--threshold-param'",
            )
    if params:
        _try_parameters(name, params)
    return params


def _try_parameters(name, params):
    # Strategies check their parameters in fit, as scikit-learn estimators do. Fit
    # one on made-up scores now, so that a bad value is a usage error reported
    # before a long training, whichever plugin the strategy comes from.
    import numpy as np

    from ..thresholds import get_threshold_strategy

    scores = np.linspace(0.0, 1.0, 1000) ** 4
    labels = (scores > 0.6).astype(np.int64)
    try:
        strategy = get_threshold_strategy(name, **params)  # checks the parameters
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            supervised = getattr(strategy, "supervised", False)
            strategy.fit(scores, labels if supervised else None)
    except Exception as exc:
        raise click.BadParameter(
            one_line_reason(exc), param_hint="'--threshold-param'"
        ) from None


def _strategy_parameters(name):
    from ..thresholds import get_threshold_strategy

    strategy = get_threshold_strategy(name)
    if hasattr(strategy, "get_params"):
        return list(strategy.get_params(deep=False))
    return None


def _one_character(name):
    def check(ctx, param, value):
        if value is None:
            return None
        value = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(value, value)
        if len(value) != 1 or value in "\"\r\n":
            raise click.BadParameter(f"{value!r} is not one character ({name})")
        return value

    return check


_READING = [
    click.option(
        "--sep",
        metavar="CHAR",
        callback=_one_character("a separator such as ',', ';', '|' or '\\t'"),
        help="Field separator of a CSV DATA. Default: tab for .tsv, else found from "
        "the first lines (',', ';', tab or '|'). The output uses the same one.",
    ),
    click.option(
        "--decimal",
        metavar="CHAR",
        callback=_one_character("'.' or ','"),
        help="Decimal mark of a CSV DATA: '.' or ','. Default: ',' when the separator "
        "is ';' and numbers are written like 7,5; else '.'.",
    ),
    click.option(
        "--na-values",
        multiple=True,
        metavar="TEXT",
        help="Also read this value as a missing cell (for example '?' or -999); "
        "repeatable. Blank cells, NA and NaN are missing anyway. The output keeps it.",
    ),
]


def reading_options(command):
    """Add --sep, --decimal and --na-values; the command receives them as ``reading=dict``
    of :func:`anovae.cli._io.read_table` keywords."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        reading = {
            "sep": kwargs.pop("sep"),
            "decimal": kwargs.pop("decimal"),
            "na_values": list(kwargs.pop("na_values")) or None,
        }
        return command(*args, reading=reading, **kwargs)

    for option in reversed(_READING):
        wrapper = option(wrapper)
    return wrapper
