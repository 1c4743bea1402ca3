"""Model-file surgery for tests: copy a saved model, changing what a test needs broken."""

import io
import json
import zipfile

import numpy as np


def rewrite(source, target, *, meta=None, arrays=None, extra=None, compresslevel=None):
    """Copy a model file, changing its metadata (a function of the header dict), arrays
    ({name: ndarray}) or adding raw entries ({name: bytes or a writer function})."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(
        target, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel
    ) as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "anovae.json" and meta is not None:
                header = json.loads(data)
                meta(header["meta"])
                data = json.dumps(header).encode()
            key = name[len("arrays/") : -len(".npy")]
            if arrays and key in arrays:
                buffer = io.BytesIO()
                np.save(buffer, arrays.pop(key))
                data = buffer.getvalue()
            if extra and name in extra:
                continue
            dst.writestr(name, data)
        for name, content in (extra or {}).items():
            if callable(content):
                with dst.open(name, "w", force_zip64=True) as handle:
                    content(handle)
            else:
                dst.writestr(name, content)
    return target
