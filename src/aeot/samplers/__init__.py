"""Latent samplers: ``make_sampler(name, **params).fit(z).sample(n)``."""

from aeot.samplers.base import LatentSampler, check_codes
from aeot.samplers.registry import (
    SAMPLERS,
    list_samplers,
    load_sampler,
    make_sampler,
    register_sampler,
    save_sampler,
)

# Importing the implementations registers them.
from aeot.samplers import gaussian as _gaussian  # noqa: E402,F401
from aeot.samplers import sdot as _sdot  # noqa: E402,F401
from aeot.samplers import gmm as _gmm  # noqa: E402,F401
from aeot.samplers import kantorovich as _kantorovich  # noqa: E402,F401
from aeot.samplers import kmeans as _kmeans  # noqa: E402,F401
from aeot.samplers import otgen as _otgen  # noqa: E402,F401
from aeot.samplers import ottrans as _ottrans  # noqa: E402,F401
from aeot.samplers.gaussian import GaussianSampler  # noqa: E402
from aeot.samplers.gmm import GMMSampler  # noqa: E402
from aeot.samplers.kantorovich import KantorovichSampler  # noqa: E402
from aeot.samplers.kmeans import KMeansSampler  # noqa: E402
from aeot.samplers.otgen import OTGenSampler  # noqa: E402
from aeot.samplers.ottrans import OTTransSampler  # noqa: E402
from aeot.samplers.sdot import SDOTSampler  # noqa: E402

__all__ = [
    "LatentSampler",
    "GaussianSampler",
    "GMMSampler",
    "KantorovichSampler",
    "KMeansSampler",
    "OTGenSampler",
    "OTTransSampler",
    "SDOTSampler",
    "SAMPLERS",
    "check_codes",
    "list_samplers",
    "load_sampler",
    "save_sampler",
    "make_sampler",
    "register_sampler",
]
