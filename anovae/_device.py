"""Device resolution: ``"auto"`` means CUDA when present, else CPU."""

import torch

from .errors import AnovaeError


def resolve_device(spec):
    if spec in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError):
        raise AnovaeError(f"device {spec!r} is not a valid torch device") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AnovaeError(f"device={spec!r} but CUDA is not available on this machine; use device='cpu' or 'auto'")
    return device
