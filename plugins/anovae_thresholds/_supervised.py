"""Cuts chosen with labelled anomalies."""

import numpy as np

from anovae.errors import DataError

from ._base import BuiltinStrategy, below


class F1Threshold(BuiltinStrategy):
    """Choose the cut that maximises the F1 score of the anomaly class.

    Needs labels: ``fit(scores, y)`` with ``y`` holding both 0 (normal) and 1
    (anomaly). Every distinct score is tried as a cut (flagging the scores strictly
    above it), as is a cut just below the smallest score (flagging them all).

    Attributes
    ----------
    threshold_ : float
        The best cut: the highest score left normal by it.
    f1_ : float
        F1 score of that cut on the fitted scores.

    Notes
    -----
    When several cuts reach the best F1 the highest wins, as it raises fewer
    alarms. A cut tuned on the scores it is judged on is optimistic: fit it on a
    labelled validation set, not the test set.

    References
    ----------
    .. [1] C. J. van Rijsbergen, "Information Retrieval", 2nd edition,
       Butterworths, 1979, chapter 7.

    Examples
    --------
    >>> from anovae_thresholds import F1Threshold
    >>> strategy = F1Threshold().fit([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1])
    >>> float(strategy.threshold_), round(strategy.f1_, 3)
    (2.0, 0.857)
    """

    description = "Supervised: the cut that maximises F1 on labelled scores."
    supervised = True

    def __init__(self):
        pass

    def _compute_threshold(self, scores, y):
        if set(np.unique(y).tolist()) != {0, 1}:
            raise DataError(
                "F1Threshold needs labels with both classes, 0 (normal) and 1 "
                f"(anomaly); got the values {np.unique(y).tolist()!r}"
            )
        is_anomaly = np.asarray(y) == 1
        anomalies = np.sort(scores[is_anomaly])
        normals = np.sort(scores[~is_anomaly])
        distinct = np.unique(scores)
        cuts = np.concatenate([[below(distinct[0])], distinct])
        true_pos = anomalies.size - np.searchsorted(anomalies, cuts, side="right")
        false_pos = normals.size - np.searchsorted(normals, cuts, side="right")
        # F1 = 2TP / (2TP + FP + FN), and TP + FN is the number of anomalies.
        f1 = 2.0 * true_pos / (true_pos + false_pos + anomalies.size)
        best = cuts.size - 1 - int(np.argmax(f1[::-1]))
        self.f1_ = float(f1[best])
        return cuts[best]
