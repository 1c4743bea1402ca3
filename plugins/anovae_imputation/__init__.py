"""Built-in imputation plugin: fill missing cells with a VAE or recover them with a CVAE.

Registers the imputers ``vae`` (:class:`VAEImputer`, the MIWAE rule), ``cvae``
(:class:`CVAEImputer`, the ID-CVAE feature recovery) and ``auto``
(:class:`MixedImputer`: each kind of column by the rule that suits it), and the
``anovae impute`` command, whose ``--method`` takes any registered imputer. They are
registered by :class:`~anovae.plugins.Lazy` reference and imported on first use.
"""

import importlib

from anovae import hookimpl
from anovae.plugins import Lazy

__all__ = ["CVAEImputer", "MixedImputer", "VAEImputer", "register_commands", "register_imputers"]

_LAZY = {"CVAEImputer": "._cvae_imputer", "MixedImputer": "._mixed_imputer", "VAEImputer": "._vae_imputer"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookimpl
def register_imputers(register):
    register(
        "auto",
        Lazy(f"{__name__}._mixed_imputer:MixedImputer"),
        "numbers by the vae rule, text columns by the cvae rule (anovae impute's default)",
    )
    register(
        "vae",
        Lazy(f"{__name__}._vae_imputer:VAEImputer"),
        "conditional expectation / most probable value under a VAE (MIWAE; Mattei & Frellsen 2019)",
    )
    register(
        "cvae",
        Lazy(f"{__name__}._cvae_imputer:CVAEImputer"),
        "categorical recovery by the best-explaining label of a conditional VAE "
        "(ID-CVAE; Lopez-Martin et al. 2017)",
    )


@hookimpl
def register_commands(cli):
    from ._cli import impute

    cli.add_command(impute)
