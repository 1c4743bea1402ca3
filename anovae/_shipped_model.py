"""A fitted model sent to other processes as the bytes of its model file.

Dask moves a task's arguments between processes with pickle. A
:class:`ShippedModel` pickles as the ``anovae.save`` file of the estimator: compact,
read back by ``anovae.load`` (no code unpickled, every array checked), and named by
its SHA-256 digest. A process loads each model once (:meth:`ShippedModel.estimator`)
and keeps it, keyed by that digest, however many partitions it then scores.
"""

import collections
import hashlib
import os
import tempfile
import threading

__all__ = ["ShippedModel", "loads"]

# Models kept per process: a worker serving a few jobs at once needs a few, not all.
_KEEP = 4
_loaded = collections.OrderedDict()
_lock = threading.Lock()
#: How many times this process loaded each model (digest -> count), for tests.
loads = collections.Counter()


class ShippedModel:
    """A fitted estimator as the bytes of its ``anovae.save`` file, with their digest."""

    __slots__ = ("data", "digest")

    def __init__(self, data):
        self.data = bytes(data)
        self.digest = hashlib.sha256(self.data).hexdigest()

    @classmethod
    def of(cls, estimator):
        """Save ``estimator`` (any model ``anovae.save`` writes) and keep its bytes."""
        from . import save

        with tempfile.TemporaryDirectory(prefix="anovae-model-") as folder:
            path = save(estimator, os.path.join(folder, "model.anovae"))
            with open(path, "rb") as handle:
                return cls(handle.read())

    def __getstate__(self):
        return self.data

    def __setstate__(self, data):
        self.__init__(data)

    def __dask_tokenize__(self):
        # Dask names the model's task by content: the same model is the same key.
        return ("anovae-model", self.digest)

    def __repr__(self):
        return f"ShippedModel({self.digest[:12]}, {len(self.data)} bytes)"

    def estimator(self):
        """The estimator, loaded in this process the first time it is asked for."""
        with _lock:
            estimator = _loaded.get(self.digest)
            if estimator is None:
                estimator = self._load()
                _loaded[self.digest] = estimator
                loads[self.digest] += 1
                while len(_loaded) > _KEEP:
                    _loaded.popitem(last=False)
            _loaded.move_to_end(self.digest)
            return estimator

    def _load(self):
        from . import load

        # anovae.load reads a file (it checks entry sizes before inflating them).
        with tempfile.TemporaryDirectory(prefix="anovae-model-") as folder:
            path = os.path.join(folder, "model.anovae")
            with open(path, "wb") as handle:
                handle.write(self.data)
            return load(path)
