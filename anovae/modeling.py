"""Building blocks for estimators written outside the core, and for code that builds
on a fitted model (public API).

The built-in image plugin's ``ImageVAE`` is made of these, and so can a third-party
estimator: the VAE network and its layers, the ELBO and IWAE bounds, the training
loop, device resolution, the fixed draws and chunk sizes the core scores with, and
the helpers that put a network's weights into an anovae model file.

The built-in imputers build on a fitted ``VAE`` through the functions that take one
first: :func:`encode_rows`, :func:`column_codec`, :func:`missing_cells`,
:func:`scoring_draws` and :func:`map_chunks`.

Importing this module imports torch. Each name is the core's own object,
re-exported: a plugin that uses these behaves like the core (same devices, same
training, same file format) and never imports a module, nor touches an attribute of
an anovae object, whose name starts with an underscore.
"""

from ._device import resolve_device
from ._fitted import column_codec, encode_rows, map_chunks, missing_cells, scoring_draws
from ._networks import _MAX_LOG_VAR as MAX_LOG_VAR
from ._networks import _MIN_LOG_VAR as MIN_LOG_VAR
from ._networks import VAEModule, mlp
from ._objectives import elbo_terms, iwae_bound, log_likelihood_bound
from ._persistence import load_module_arrays, loading_device, module_arrays
from ._scoring import fixed_draws, rows_per_chunk
from ._state import param_to_json
from ._tabular import BERNOULLI, CATEGORICAL, GAUSSIAN
from ._training import OPTIMIZERS, train

__all__ = [
    "BERNOULLI",
    "CATEGORICAL",
    "GAUSSIAN",
    "MAX_LOG_VAR",
    "MIN_LOG_VAR",
    "OPTIMIZERS",
    "VAEModule",
    "column_codec",
    "elbo_terms",
    "encode_rows",
    "fixed_draws",
    "iwae_bound",
    "load_module_arrays",
    "loading_device",
    "log_likelihood_bound",
    "map_chunks",
    "missing_cells",
    "mlp",
    "module_arrays",
    "param_to_json",
    "resolve_device",
    "rows_per_chunk",
    "scoring_draws",
    "train",
]
