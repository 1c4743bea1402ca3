"""Errors a user can trigger. The CLI turns each into a one-line message."""


class AnovaeError(Exception):
    """Base class of every error anovae raises on purpose."""


class DataError(AnovaeError, ValueError):
    """The input data cannot be used (bad file, column, value)."""


class ModelFileError(AnovaeError, ValueError):
    """A file is not an anovae model, or is of an unsupported format version."""


class TrainingError(AnovaeError, RuntimeError):
    """Training diverged (for example the loss became NaN)."""


class PluginError(AnovaeError, ValueError):
    """A plugin registration is invalid, or a requested plugin object is unknown."""


class FewRowsWarning(UserWarning):
    """A model was trained on too few rows for its scores and threshold to be trusted."""


def one_line_reason(exc):
    """``exc``'s message on one line (its type's name when it has none), for the
    one-line errors the command line prints."""
    return " ".join(str(exc).split()) or type(exc).__name__
