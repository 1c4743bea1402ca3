"""Reading ahead and writing behind in a background thread (anovae/cli/_pipeline.py)."""

import threading

import pytest

from anovae.cli._pipeline import BackgroundWriter, prefetched


class Bad(Exception):
    pass


def test_prefetched_items_come_in_order_from_another_thread():
    threads = []

    def numbers():
        for i in range(50):
            threads.append(threading.current_thread())
            yield i

    assert list(prefetched(numbers(), depth=3)) == list(range(50))
    assert threading.current_thread() not in threads


def test_a_reading_error_is_raised_where_its_item_was_due():
    def failing():
        yield 1
        yield 2
        raise Bad("line 3")

    seen = []
    with pytest.raises(Bad, match="line 3"):
        for item in prefetched(failing()):
            seen.append(item)
    assert seen == [1, 2]


def test_leaving_the_loop_early_closes_the_source():
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    for item in prefetched(endless(), depth=2):
        if item == 5:
            break
    assert closed.wait(5)


def test_writes_happen_in_order_and_all_before_the_block_ends():
    written = []
    with BackgroundWriter(written.append, depth=2) as write:
        for i in range(100):
            write(i)
    assert written == list(range(100))


def test_a_write_error_reaches_the_command_at_the_latest_when_the_block_ends():
    def write(item):
        if item == 3:
            raise Bad("disk full")

    with pytest.raises(Bad, match="disk full"):
        with BackgroundWriter(write) as writer:
            for i in range(5):
                writer(i)


def test_a_write_error_stops_the_next_write():
    failed = threading.Event()

    def write(item):
        failed.set()
        raise Bad("disk full")

    with pytest.raises(Bad, match="disk full"):
        with BackgroundWriter(write) as writer:
            writer(0)
            assert failed.wait(5)
            for i in range(1, 1000):  # one of these must raise, long before the end
                writer(i)
            raise AssertionError("never stopped")  # pragma: no cover


def test_an_error_in_the_block_abandons_pending_writes_and_is_the_one_raised():
    started, release = threading.Event(), threading.Event()
    written = []

    def slow(item):
        started.set()
        release.wait(5)
        written.append(item)

    with pytest.raises(Bad, match="bad chunk"):
        with BackgroundWriter(slow, depth=3) as write:
            for i in range(3):
                write(i)
            assert started.wait(5)
            threading.Timer(0.2, release.set).start()
            raise Bad("bad chunk")
    # The write under way finishes; the two queued behind it are dropped.
    assert written == [0]
