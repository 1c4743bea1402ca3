"""The command line's error boundary: every failure becomes one line and an exit code.

Exit codes
----------
0  success.
1  the data, a file, the model or a plugin object could not be used (an
   :class:`anovae.errors.AnovaeError`, an ``OSError``...), and any unexpected failure.
2  usage error: click's own (unknown option, missing argument) and every
   :class:`click.BadParameter` / :class:`click.UsageError` a command raises.

Commands need no ``try``/``except`` of their own: the root group runs each one inside
:func:`error_boundary`, plugin commands included. ``--debug`` (or ``ANOVAE_DEBUG=1``)
lets the original exception through, with its traceback.
"""

import contextlib
import os
import sys
import warnings

import click
from sklearn.utils._param_validation import InvalidParameterError

from ..errors import AnovaeError

__all__ = ["describe", "error_boundary", "BoundaryGroup"]


def _one_line(text):
    # Messages from pandas or torch can span lines; the user gets one.
    return " ".join(str(text).split())


def describe(exc):
    """Return a one-line message saying what went wrong, for any exception."""
    if isinstance(exc, (AnovaeError, InvalidParameterError)):
        return _one_line(exc)
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        return _one_line(f"{exc.filename}: {reason}" if exc.filename else reason)
    if isinstance(exc, MemoryError):
        return "out of memory; try a smaller --chunksize, fewer rows or a smaller model"
    # Anything else is a bug (ours or a plugin's): say so, and how to see more.
    return _one_line(
        f"unexpected {type(exc).__name__}: {exc} (rerun with --debug to see the traceback)"
    )


def _show_warning(message, category, filename, lineno, file=None, line=None):
    # Library warnings (pandas, sklearn, a strategy's small-sample fallback) are
    # meant for the user here, not for the developer: no file name, no source line.
    click.echo(f"anovae: warning: {_one_line(message)}", err=True)


@contextlib.contextmanager
def error_boundary(debug=False):
    """Run a block so that any failure leaves as a :class:`click.ClickException`.

    Click's own exceptions (usage errors, ``Exit``, ``Abort``) pass unchanged; a
    closed standard output (``anovae detect data.csv | head``) ends the command
    quietly; everything else becomes a one-line message with exit code 1. With
    ``debug`` the original exception propagates, traceback included.
    """
    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = _show_warning
        try:
            yield
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away; Python would otherwise complain again while
            # flushing stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(1) from None
        except Exception as exc:
            if debug:
                raise
            raise click.ClickException(describe(exc)) from None


class BoundaryGroup(click.Group):
    """A click group that runs its subcommands inside :func:`error_boundary`.

    The group's own ``--debug`` flag (in ``ctx.params``) decides whether tracebacks
    are shown.
    """

    def invoke(self, ctx):
        with error_boundary(debug=bool(ctx.params.get("debug"))):
            return super().invoke(ctx)
