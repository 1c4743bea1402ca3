"""The command line's error boundary: every failure becomes one line and an exit code.

Exit codes
----------
0  success.
1  the data, a file, the model or a plugin object could not be used (an
   :class:`anovae.errors.AnovaeError`, an ``OSError``...), and any unexpected failure.
2  usage error: click's own (unknown option, missing argument) and every
   :class:`click.BadParameter` / :class:`click.UsageError` a command raises.
130  interrupted (Ctrl-C, SIGINT); 129 hung up (SIGHUP); 143 terminated (SIGTERM):
   128 + the signal's number, as a shell reports a process killed by it. Temporary
   output files are removed first (signals become an exception that unwinds
   through every ``atomic_path`` block), and one line says what happened. A signal
   that arrives while a module imports, or inside a callback where Python cannot
   raise (a ``__del__``), is held until that is over, then ends the command the same way.

Commands need no ``try``/``except`` of their own: the root group runs each one inside
:func:`error_boundary`, plugin commands included. ``--debug`` (or ``ANOVAE_DEBUG=1``)
lets the original exception through, with its traceback.
"""

import _thread
import contextlib
import os
import signal
import sys
import threading
import warnings

import click

from ..errors import AnovaeError

__all__ = ["describe", "error_boundary", "BoundaryGroup", "Signalled"]

#: The signals that end a command cleanly, and the name the user is told.
_SIGNALS = {"SIGTERM": "terminated", "SIGHUP": "hung up"}


class Signalled(BaseException):
    """A termination signal arrived: unwinds like KeyboardInterrupt, cleaning up.

    A BaseException, so that no ``except Exception`` on the way swallows it.
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


# The last signal received while a command ran. An import interrupted half-way can
# turn the exception into another one (numpy raises ImportError next time): the
# boundary still reports the signal, not the consequence.
_received = None

# Set once the interruption has been reported: a signal that arrives after that (or
# one delivered again, see _deliver_again) must not raise a second time on the way
# out and print a second line. The lock orders it against _deliver_again's thread.
_reported = False
_report_lock = threading.Lock()


def _raise_signalled(signum, frame):
    global _received
    if _reported:
        return
    _received = signum
    if _cannot_raise_at(frame):
        _deliver_again(signum)
        return
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Signalled(signum)


def _cannot_raise_at(frame):
    """Whether raising at ``frame`` would lose the exception, or worse.

    Inside an import, importlib's own callbacks lose it, and an extension that
    imports Python code from C++ (torch) aborts the whole process on it; inside
    :func:`_quiet_lost_signal` it would be lost like the one the hook delivers
    again. The signal is handled again a moment later, once that is over.
    """
    while frame is not None:
        code = frame.f_code
        if code is _quiet_lost_signal.__code__ or code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


# A delivery is on its way: signals lost meanwhile join it rather than raise twice
# (a second raise could land in the clean-up the first one started).
_delivery_pending = False


def _deliver_again(signum, delay=0.05):
    """Have the signal handled again, shortly, by the main thread.

    From a thread, so that it lands after the callback that lost it has returned; as
    a real signal where there are such, so that it wakes a main thread that waits
    (a sleep, a read) as the first one did.
    """
    global _delivery_pending
    if _delivery_pending:
        return
    _delivery_pending = True

    def deliver():
        global _delivery_pending
        with _report_lock:
            _delivery_pending = False
            if _reported:
                return
            if hasattr(signal, "pthread_kill"):
                signal.pthread_kill(threading.main_thread().ident, signum)
            else:
                _thread.interrupt_main(signum)

    timer = threading.Timer(delay, deliver)
    timer.daemon = True
    timer.start()


def _mark_reported():
    global _reported
    with _report_lock:
        _reported = True


@contextlib.contextmanager
def signals_as_exceptions():
    """Turn SIGTERM and SIGHUP into :class:`Signalled` while the block runs.

    Python's default for them is to die at once, leaving temporary files behind.
    A signal the user's shell ignores (``nohup``) stays ignored. Handlers can only
    be set from the main thread; elsewhere this does nothing.
    """
    global _received, _reported
    _received = None
    _reported = False
    previous = {}
    try:
        for name in _SIGNALS:
            number = getattr(signal, name, None)
            if number is not None and signal.getsignal(number) is signal.SIG_DFL:
                previous[number] = signal.signal(number, _raise_signalled)
        # Ctrl-C keeps Python's behaviour (KeyboardInterrupt), and is remembered.
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            previous[signal.SIGINT] = signal.signal(signal.SIGINT, _raise_signalled)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _interrupted_line(exc):
    if isinstance(exc, Signalled) and exc.signum != signal.SIGINT:
        name = signal.Signals(exc.signum).name
        return f"anovae: {_SIGNALS.get(name, 'stopped')} ({name}); no output written", 128 + exc.signum
    return "anovae: interrupted (Ctrl-C); no output written", 128 + signal.SIGINT


def _is_sklearn_parameter_error(exc):
    # Looked up, not imported: the command line must start without scikit-learn,
    # and an exception of a module never imported cannot have been raised.
    module = sys.modules.get("sklearn.utils._param_validation")
    return module is not None and isinstance(exc, module.InvalidParameterError)


def _one_line(text):
    # Messages from pandas or torch can span lines; the user gets one.
    return " ".join(str(text).split())


def describe(exc):
    """Return a one-line message saying what went wrong, for any exception."""
    if isinstance(exc, AnovaeError) or _is_sklearn_parameter_error(exc):
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
        except (KeyboardInterrupt, Signalled) as exc:
            if debug:
                raise
            # Any temporary output is already gone: atomic_path cleans up on the way.
            _mark_reported()
            line, code = _interrupted_line(exc)
            click.echo(line, err=True)
            raise click.exceptions.Exit(code) from None
        except BrokenPipeError:
            # The reader went away; Python would otherwise complain again while
            # flushing stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(1) from None
        except Exception as exc:
            if debug:
                raise
            if _received is not None:
                # The signal was turned into another error on its way (see _received).
                _mark_reported()
                line, code = _interrupted_line(Signalled(_received))
                click.echo(line, err=True)
                raise click.exceptions.Exit(code) from None
            raise click.ClickException(describe(exc)) from None


class BoundaryGroup(click.Group):
    """A click group that runs its subcommands inside :func:`error_boundary`.

    The group's own ``--debug`` flag (in ``ctx.params``) decides whether tracebacks
    are shown.
    """

    def invoke(self, ctx):
        with error_boundary(debug=bool(ctx.params.get("debug"))):
            return super().invoke(ctx)

    def main(self, *args, **kwargs):
        with signals_as_exceptions():
            try:
                return super().main(*args, **kwargs)
            except (KeyboardInterrupt, Signalled) as exc:
                # Outside a command (while click parses the options, or in
                # standalone_mode=False use): still one line, no traceback.
                if not kwargs.get("standalone_mode", True):
                    raise
                _mark_reported()
                line, code = _interrupted_line(exc)
                click.echo(line, err=True)
                sys.exit(code)


def _one_line_keyboard_interrupt(previous):
    """An excepthook that reports Ctrl-C during start-up (imports) in one line.

    Importing the command line's modules takes a moment; a Ctrl-C then never reaches
    the error boundary and Python would print the traceback of whatever import it
    interrupted. The interpreter still exits as killed by SIGINT (status 130).
    """

    def hook(kind, value, traceback):
        if issubclass(kind, KeyboardInterrupt) and not os.environ.get("ANOVAE_DEBUG"):
            sys.stderr.write("anovae: interrupted (Ctrl-C)\n")
            return
        previous(kind, value, traceback)

    return hook


def _quiet_lost_signal(unraisable):
    """The unraisablehook, for a signal that landed in a callback and was lost there.

    A signal is handled between two steps of whatever Python code runs, a weakref's
    callback or a ``__del__`` included (importlib runs one when a module lock goes).
    An exception raised there cannot propagate: Python prints "Exception ignored
    in ..." with a traceback and goes on as if the signal never came. The command
    line says nothing of it and has the signal handled again once the callback is
    over, so it ends the command like any other. Anything else goes to Python's
    own hook, as does everything with ``ANOVAE_DEBUG`` set.
    """
    kind = unraisable.exc_type
    lost_signal = kind is not None and issubclass(kind, (KeyboardInterrupt, Signalled))
    if not lost_signal or os.environ.get("ANOVAE_DEBUG"):
        sys.__unraisablehook__(unraisable)
    if lost_signal:
        _deliver_again(getattr(unraisable.exc_value, "signum", signal.SIGINT))


if sys.excepthook is sys.__excepthook__:
    sys.excepthook = _one_line_keyboard_interrupt(sys.excepthook)
if sys.unraisablehook is sys.__unraisablehook__:
    sys.unraisablehook = _quiet_lost_signal
