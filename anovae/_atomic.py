"""Writing a file so that readers see the old file or the complete new one, never a part.

The one way anovae writes a file (model files, the command line's outputs,
downloaded datasets): the data go to a temporary file in the target's folder (same
file system, so the final move is one step), which is flushed to disk, given the
mode the target would have, and moved into place only once complete. If anything
fails or interrupts the write, the temporary file is removed and the target is
left as it was.

This module imports only the standard library, so the command line's output
helpers and the model file code can share it.
"""

import contextlib
import os
import tempfile

__all__ = ["PublishError", "TargetExistsError", "atomic_write"]


class PublishError(OSError):
    """A step of the atomic write itself failed (creating, syncing or moving the
    temporary file), as opposed to an error of the caller's writer."""


class TargetExistsError(PublishError, FileExistsError):
    """The target appeared while the file was written, and may not be replaced."""


@contextlib.contextmanager
def atomic_write(path, *, replace=True):
    """Yield a temporary path beside ``path`` that becomes ``path`` when the block ends.

    Write the result to the yielded path with any writer (``open``, ``zipfile``,
    ``anovae.save``) and close it before the block ends. Then the file is synced to
    disk, given the permissions of the file it replaces (or those of a new file
    under the umask) and moved to ``path`` in one step. If the block raises (an
    interrupt included), the temporary file is removed and ``path`` is untouched.

    With ``replace=False`` an existing ``path`` is never replaced, not even one
    that another program creates while the block runs: :class:`TargetExistsError`.
    A failure of the write's own steps (an unwritable folder, a full disk) is a
    :class:`PublishError`, which keeps the ``errno`` and ``strerror`` of its cause.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise PublishError(exc.errno, exc.strerror or str(exc), path) from exc
    os.close(fd)
    try:
        yield tmp
        try:
            _sync(tmp)
            os.chmod(tmp, _final_mode(path))
            _publish(tmp, path, replace)
        except PublishError:
            raise
        except OSError as exc:
            raise PublishError(exc.errno, exc.strerror or str(exc), path) from exc
        _sync_folder(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _sync(path):
    # Without it a crash soon after the rename can leave an empty or partial file
    # under the final name: the rename may reach the disk before the data.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder):
    # Makes the rename itself durable; a file system that cannot sync a folder
    # (some network mounts) has still completed the write.
    with contextlib.suppress(OSError):
        _sync(folder)


def _final_mode(target):
    # mkstemp creates files readable by their owner only; the result should get the
    # permissions of the file it replaces, or the usual ones under the umask.
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _publish(tmp, path, replace):
    """Move the finished ``tmp`` to ``path``; without ``replace``, never over a file.

    Checking that ``path`` is free and then renaming leaves a window in which another
    program can create it; a hard link fails if the name exists, in one step.
    """
    if replace:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise TargetExistsError(f"{path} appeared while it was written") from None
    except OSError:
        # A file system without hard links (some network and FAT mounts): the best
        # left is to look just before renaming.
        if os.path.lexists(path):
            raise TargetExistsError(f"{path} appeared while it was written") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)
