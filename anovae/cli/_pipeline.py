"""Overlapping a streamed command's reading and writing with its scoring.

``anovae score`` reads a chunk, scores it and writes it, one after the other. Reading
(Parquet decoding, CSV parsing) and writing (Parquet encoding, compression, the
disk) mostly run outside Python's lock, as does the network's arithmetic, so the
next chunk can be read and the previous one written while a chunk is scored. Both
helpers keep the order of items and the command's error rules: an error is raised
in the command's thread, where the sequential loop would have raised it (a bad line
far into the file surfaces when its chunk is due), and the output is complete only
if every write succeeded.
"""

import queue
import threading

_END = object()
#: Seconds between two checks of whether the other side has stopped.
_POLL = 0.1


def prefetched(iterable, depth=1):
    """Iterate ``iterable`` in a background thread, at most ``depth`` items ahead.

    An exception raised by ``iterable`` is raised here, in place of the item it
    stopped. Leaving the loop early (break, an error in the loop's body) stops
    the thread and closes ``iterable`` there, so its files are closed too.
    """
    items = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        iterator = iter(iterable)
        try:
            for item in iterator:
                if not _offer(items, (item, None), stop):
                    return
            _offer(items, (_END, None), stop)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer as is
            _offer(items, (_END, error), stop)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="anovae-read", daemon=True)
    thread.start()
    try:
        while True:
            item, error = items.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _offer(items, entry, stop):
    """Put ``entry`` unless the consumer has stopped; False when it has."""
    while not stop.is_set():
        try:
            items.put(entry, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


class BackgroundWriter:
    """Calls ``write(item)`` for each item given to it, in order, in one background
    thread, at most ``depth`` items behind.

    Use it as a context manager inside the output's own block: leaving the block
    normally waits for every write and raises the first write error, if any;
    leaving it on an error abandons the writes not yet done (the output is being
    discarded). A write error also stops the next :meth:`__call__`.
    """

    def __init__(self, write, depth=1):
        self._write = write
        self._items = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="anovae-write", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __call__(self, item):
        self._raise_error()
        if not _offer(self._items, item, self._stop):
            self._raise_error()  # the writer stopped because a write failed
            raise RuntimeError("the output's writer has stopped")

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            self._stop.set()
            self._thread.join()
            return False
        _offer(self._items, _END, self._stop)
        self._thread.join()
        self._raise_error()
        return False

    def _run(self):
        while True:
            try:
                item = self._items.get(timeout=_POLL)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if item is _END or self._stop.is_set():
                return
            try:
                self._write(item)
            except BaseException as error:  # noqa: BLE001 - raised in the command's thread
                self._error = error
                self._stop.set()
                return

    def _raise_error(self):
        if self._error is not None:
            raise self._error
