"""Built-in imputation plugin: fill missing cells with a VAE or recover them with a CVAE.

Registers the imputers ``vae`` (:class:`VAEImputer`, the MIWAE rule) and ``cvae``
(:class:`CVAEImputer`, the ID-CVAE feature recovery), and the ``anovae impute``
command.
"""

from anovae import hookimpl

from ._cvae_imputer import CVAEImputer
from ._vae_imputer import VAEImputer

__all__ = ["CVAEImputer", "VAEImputer", "register_commands", "register_imputers"]


@hookimpl
def register_imputers(register):
    register(
        "vae",
        VAEImputer,
        "conditional expectation / most probable value under a VAE (MIWAE; Mattei & Frellsen 2019)",
    )
    register(
        "cvae",
        CVAEImputer,
        "categorical recovery by the best-explaining label of a conditional VAE "
        "(ID-CVAE; Lopez-Martin et al. 2017)",
    )


@hookimpl
def register_commands(cli):
    # Imported here: the command pulls in the CLI helpers, which the library
    # imputers do not need.
    from ._cli import impute

    cli.add_command(impute)
