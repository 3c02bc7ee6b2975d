"""SNGAN's ResNet networks for 32x32 images (Miyato et al. 2018, Table 4), any channel count.

AE-OT-GAN (An et al. 2020, §4) trains CIFAR-10 with SNGAN's ResNet generator as decoder and
its mirror as encoder.  Channel counts below are at ``width=1.0``; SNGAN's tanh output is
replaced by a sigmoid so images lie in ``[0, 1]``.

Decoder (SNGAN ResNet generator):
    z (N, d) -> linear 4*4*256 -> reshape                 (N, 256, 4, 4)
             -> UpBlock 256 (BN, ReLU, nearest x2, conv3x3, BN, ReLU, conv3x3;
                shortcut nearest x2, conv1x1)              (N, 256, 8, 8)
             -> UpBlock 256                               (N, 256, 16, 16)
             -> UpBlock 256                               (N, 256, 32, 32)
             -> BN, ReLU, conv3x3 C -> sigmoid             (N, C, 32, 32)

Encoder (mirror: three down blocks with batch norm, average pooling):
    feats[0]: FirstDownBlock 256 (conv3x3, BN, ReLU, conv3x3, avgpool;
              shortcut avgpool, conv1x1)                   (N, 256, 16, 16)
    feats[1]: DownBlock 256 (BN, ReLU, conv3x3, BN, ReLU, conv3x3, avgpool;
              shortcut conv1x1, avgpool)                   (N, 256, 8, 8)
    feats[2]: DownBlock 256                               (N, 256, 4, 4)
    z:        BN, ReLU, flatten, linear d                 (N, d)

Discriminator (SNGAN ResNet D, spectral norm on every layer by default, ReLU, no BN):
    OptimizedBlock 128 (down) (N, 128, 16, 16) -> DBlock 128 down (N, 128, 8, 8)
    -> DBlock 128 -> DBlock 128 (N, 128, 8, 8) -> ReLU -> global sum pool (N, 128)
    -> linear 1 (N, 1)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aeot._validation import check_flag
from aeot.nets.base import (
    Autoencoder,
    Decoder,
    Discriminator,
    Encoder,
    check_image_size,
    check_latent_dim,
    check_width,
    scaled,
    spectral,
)

__all__ = ["build_resnet_autoencoder", "build_resnet_discriminator"]


class UpBlock(nn.Module):
    """Generator residual block: (N, cin, H, W) -> (N, cout, 2H, 2W)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, 1, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")  # (N, cin, 2H, 2W)
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))  # (N, cout, 2H, 2W)
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class FirstDownBlock(nn.Module):
    """First encoder block (on raw pixels, no leading activation): (N, cin, H, W) -> (N, cout, H/2, W/2)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1, self.bn = nn.Conv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.bn(self.conv1(x)))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class DownBlock(nn.Module):
    """Encoder residual block (pre-activation, BN): (N, cin, H, W) -> (N, cout, H/2, W/2)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, 1, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
        return F.avg_pool2d(h, 2) + F.avg_pool2d(self.shortcut(x), 2)


class OptimizedDBlock(nn.Module):
    """SNGAN's first D block: conv, ReLU, conv, avgpool; shortcut avgpool, conv1x1."""

    def __init__(self, cin: int, cout: int, sn: bool):
        super().__init__()
        self.conv1 = spectral(nn.Conv2d(cin, cout, 3, 1, 1), sn)
        self.conv2 = spectral(nn.Conv2d(cout, cout, 3, 1, 1), sn)
        self.shortcut = spectral(nn.Conv2d(cin, cout, 1), sn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)  # (N, cout, H/2, W/2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class DBlock(nn.Module):
    """SNGAN D block: ReLU, conv, ReLU, conv, [avgpool]; learnable shortcut if shape changes."""

    def __init__(self, cin: int, cout: int, *, down: bool, sn: bool):
        super().__init__()
        self.down = down
        self.conv1 = spectral(nn.Conv2d(cin, cout, 3, 1, 1), sn)
        self.conv2 = spectral(nn.Conv2d(cout, cout, 3, 1, 1), sn)
        self.shortcut = spectral(nn.Conv2d(cin, cout, 1), sn) if (down or cin != cout) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        s = self.shortcut(x)
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class GlobalSumPool(nn.Module):
    """(N, C, H, W) -> (N, C), summing over space as in SNGAN's D."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=(2, 3))


def build_resnet_autoencoder(
    *, image_shape: Sequence[int], latent_dim: int = 128, width: float = 1.0
) -> Autoencoder:
    """SNGAN ResNet generator as decoder, its down-block mirror as encoder (32x32 images)."""
    c, h, w = check_image_size("resnet", image_shape, 32)
    d = check_latent_dim(latent_dim)
    width = check_width(width)
    ch = scaled(256, width)

    blocks = [FirstDownBlock(c, ch), DownBlock(ch, ch), DownBlock(ch, ch)]  # ... -> (N, ch, 4, 4)
    head = nn.Sequential(nn.BatchNorm2d(ch), nn.ReLU(), nn.Flatten(), nn.Linear(ch * 16, d))  # (N, d)
    encoder = Encoder(blocks, head, image_shape=(c, h, w), latent_dim=d)

    net = nn.Sequential(
        nn.Linear(d, ch * 16), nn.Unflatten(1, (ch, 4, 4)),  # (N, ch, 4, 4)
        UpBlock(ch, ch), UpBlock(ch, ch), UpBlock(ch, ch),  # (N, ch, 32, 32)
        nn.BatchNorm2d(ch), nn.ReLU(), nn.Conv2d(ch, c, 3, 1, 1), nn.Sigmoid(),  # (N, C, 32, 32)
    )
    decoder = Decoder(net, image_shape=(c, h, w), latent_dim=d)

    config = {"arch": "resnet", "image_shape": [c, h, w], "latent_dim": d, "width": width}
    return Autoencoder(encoder, decoder, config)


def build_resnet_discriminator(
    *, image_shape: Sequence[int], width: float = 1.0, spectral_norm: bool = True
) -> Discriminator:
    """SNGAN ResNet discriminator for 32x32 images (Miyato et al. 2018, Table 4)."""
    c, h, w = check_image_size("resnet", image_shape, 32)
    width = check_width(width)
    sn = check_flag("spectral_norm", spectral_norm)
    ch = scaled(128, width)
    net = nn.Sequential(
        OptimizedDBlock(c, ch, sn),  # (N, ch, 16, 16)
        DBlock(ch, ch, down=True, sn=sn),  # (N, ch, 8, 8)
        DBlock(ch, ch, down=False, sn=sn),
        DBlock(ch, ch, down=False, sn=sn),  # (N, ch, 8, 8)
        nn.ReLU(), GlobalSumPool(),  # (N, ch)
        spectral(nn.Linear(ch, 1), sn),  # (N, 1)
    )
    config = {"arch": "resnet", "image_shape": [c, h, w], "width": width, "spectral_norm": sn}
    return Discriminator(net, config)
