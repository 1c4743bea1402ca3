"""``anovae fit --nproc N``: start N training processes on this machine, as torchrun would.

Each process gets torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE,
MASTER_ADDR=127.0.0.1 and a free MASTER_PORT) and runs the command's work
function. A process that fails sends its one-line error back instead of printing
it, and the command prints the line of the first process that failed: one line,
however many processes stop because of it (the fit's error agreement in
``anovae/_ddp.py`` stops the others). If a process dies without a word (killed by a
signal) or the others do not stop within ``GRACE_S`` seconds of a failure, they are
terminated: the command never waits on a process that cannot finish.
"""

import multiprocessing
import os
import signal
import socket
import sys

import click

#: Seconds the other processes get to stop by themselves after one has failed.
GRACE_S = 10.0


def free_port():
    """A TCP port free on the loopback interface now (the rendezvous is on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(nproc, work, kwargs, debug=False):
    """Run ``work(**kwargs)`` in ``nproc`` processes; raise if one of them failed."""
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    port = free_port()
    errors = context.SimpleQueue()
    processes = [
        context.Process(
            target=_process, args=(rank, nproc, port, work, kwargs, debug, errors), name=f"anovae-rank-{rank}"
        )
        for rank in range(nproc)
    ]
    for process in processes:
        process.start()
    failed = None
    try:
        running = list(processes)
        while running:
            timeout = None if failed is None else GRACE_S
            ready = wait([p.sentinel for p in running], timeout=timeout)
            if not ready:  # the grace period is over
                break
            for process in [p for p in running if p.sentinel in ready]:
                process.join()
                running.remove(process)
                if process.exitcode != 0 and failed is None:
                    failed = process
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
    if failed is None:
        return
    rank = processes.index(failed)
    messages = {}
    while not errors.empty():
        sender, message = errors.get()
        messages.setdefault(sender, message)
    if failed.exitcode < 0:
        name = signal.Signals(-failed.exitcode).name
        raise click.ClickException(f"training process {rank} of {nproc} was killed by {name}")
    sender = reporting_process(rank, messages)
    if sender is not None:
        error = click.ClickException(messages[sender])
        error.exit_code = processes[sender].exitcode or 1
        raise error
    # Nothing to add (it failed under --debug, and printed its traceback).
    raise click.exceptions.Exit(failed.exitcode)


def reporting_process(first_failed, messages):
    """The process whose error line to show: the first to fail if it sent one, else
    the lowest-ranked that did (None if none did).

    The first to exit may be one that stopped only because another failed: it
    sends nothing, and the line worth showing is the other's.
    """
    if first_failed in messages:
        return first_failed
    return min(messages, default=None)


def _process(rank, world_size, port, work, kwargs, debug, errors):
    from .._ddp import PeerFailed
    from ._errors import error_boundary

    # The processes share this machine's cores: one pool of threads each would
    # oversubscribe them (torchrun sets 1 for the same reason).
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // world_size)))
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    try:
        with error_boundary(debug=debug):
            try:
                work(**kwargs)
            except PeerFailed:
                # The process that failed says why; a second line would only repeat it.
                sys.exit(1)
    except click.ClickException as exc:
        errors.put((rank, exc.format_message()))
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
