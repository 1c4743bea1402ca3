"""Building blocks for estimators written outside the core (public API).

The built-in image plugin's ``ImageVAE`` is made of these, and so can a third-party
estimator: the VAE network and its layers, the ELBO and IWAE bounds, the training
loop, device resolution, the fixed draws and chunk sizes the core scores with, and
the helpers that put a network's weights into an anovae model file. Importing this
module imports torch.

Each name is the core's own object, re-exported: a plugin that uses these behaves
like the core (same devices, same training, same file format) and never imports a
module whose name starts with an underscore.
"""

from ._device import resolve_device
from ._networks import _MAX_LOG_VAR as MAX_LOG_VAR
from ._networks import _MIN_LOG_VAR as MIN_LOG_VAR
from ._networks import VAEModule, mlp
from ._objectives import elbo_terms, iwae_bound, log_likelihood_bound
from ._persistence import load_module_arrays, loading_device, module_arrays
from ._scoring import fixed_draws, rows_per_chunk
from ._state import param_to_json
from ._tabular import BERNOULLI, GAUSSIAN
from ._training import OPTIMIZERS, train

__all__ = [
    "BERNOULLI",
    "GAUSSIAN",
    "MAX_LOG_VAR",
    "MIN_LOG_VAR",
    "OPTIMIZERS",
    "VAEModule",
    "elbo_terms",
    "fixed_draws",
    "iwae_bound",
    "load_module_arrays",
    "loading_device",
    "log_likelihood_bound",
    "mlp",
    "module_arrays",
    "param_to_json",
    "resolve_device",
    "rows_per_chunk",
    "train",
]
