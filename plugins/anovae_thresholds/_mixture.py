"""Two-component Gaussian mixture: the cut is where the upper component takes over."""

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm
from sklearn.mixture import GaussianMixture

from ._base import BuiltinStrategy


class GaussianMixtureThreshold(BuiltinStrategy):
    """Cut at the decision boundary of a two-component 1-D Gaussian mixture.

    A :class:`~sklearn.mixture.GaussianMixture` with two components is fitted to the
    scores; one component stands for the normal scores, the one with the higher mean
    for the anomalies. The cut is the score, between the two means, where the
    posterior probability of the upper component reaches 0.5; every score above it
    is flagged. Suited to scores with two modes and no known contamination.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seed of the mixture's initialisation; an int makes the cut reproducible.

    Attributes
    ----------
    threshold_ : float
        The decision boundary, or the fallback described in the Notes.

    Notes
    -----
    Scores are standardised before the fit so that the mixture's fixed covariance
    regularisation means the same whatever their scale. With unequal variances the
    wider component can win again far in the tails; the cut keeps only the boundary
    between the means, so higher scores are always at least as anomalous. On
    scores with a single mode the two components split it, and the cut can flag a
    large share of them: prefer ``pot`` or ``mad`` there.

    Fallbacks: when all scores are equal (a single score included) there is no
    second mode, the cut is that value and nothing is flagged. When the posterior
    does not cross 0.5 between the two means (one component dominates there), the
    cut is the midpoint of the means.

    References
    ----------
    .. [1] C. M. Bishop, "Pattern Recognition and Machine Learning", Springer,
       2006, section 9.2.

    Examples
    --------
    >>> import numpy as np
    >>> from anovae_thresholds import GaussianMixtureThreshold
    >>> rng = np.random.default_rng(0)
    >>> scores = np.r_[rng.normal(0, 1, 900), rng.normal(8, 1, 100)]
    >>> cut = GaussianMixtureThreshold(random_state=0).fit(scores).threshold_
    >>> bool(3 < cut < 5.5)
    True
    """

    description = "Decision boundary of a two-component Gaussian mixture on the scores."
    _parameter_constraints = {"random_state": ["random_state"]}

    def __init__(self, *, random_state=None):
        self.random_state = random_state

    def _compute_threshold(self, scores, y):
        center, spread = float(np.mean(scores)), float(np.std(scores))
        if spread == 0.0:
            return center
        standard = (scores - center) / spread
        mixture = GaussianMixture(n_components=2, random_state=self.random_state)
        mixture.fit(standard.reshape(-1, 1))
        low, high = np.argsort(mixture.means_.ravel())
        means = mixture.means_.ravel()
        stds = np.sqrt(mixture.covariances_.ravel())
        weights = mixture.weights_

        def log_odds(x):
            # log P(upper | x) - log P(lower | x): positive where the upper one wins.
            upper = np.log(weights[high]) + norm.logpdf(x, means[high], stds[high])
            lower = np.log(weights[low]) + norm.logpdf(x, means[low], stds[low])
            return upper - lower

        a, b = means[low], means[high]
        if a < b and log_odds(a) < 0.0 < log_odds(b):
            cut = brentq(log_odds, a, b)
        else:
            cut = 0.5 * (a + b)
        return center + spread * cut
