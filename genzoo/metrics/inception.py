"""Optional: Inception-v3 features, the ones papers report FID in, when the weights are on disk.

``features="inception"`` (``genzoo eval --features inception``) runs torch-fidelity's
TensorFlow-compatible Inception-v3 (the network torchmetrics' FID uses too), so install either
``torchmetrics[image]`` or ``torch-fidelity``. Its weights are downloaded once, which needs the
internet; genzoo never downloads them itself, and without them the error says where to put them.
Images are resized to 299×299 with genzoo's one filter (so the network's own resize does
nothing), grey images are repeated to three channels, and the 2048 pool features are compared.
Inception features fit 28×28 digits poorly, and they are slow on a CPU: prefer the default
feature networks, and quote Inception FID for comparison with papers.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .errors import MetricsError
from .space import weights_sha256

__all__ = ["inception_weights_path", "require_inception", "inception_network", "InceptionNet",
           "INCEPTION_WEIGHTS_URL", "WEIGHTS_ENV_VAR", "INCEPTION_SIZE"]

#: Where torch-fidelity (and so torchmetrics) downloads the Inception-v3 weights from.
INCEPTION_WEIGHTS_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                         "weights-inception-2015-12-05-6726825d.pth")
#: Environment variable naming a weights file elsewhere.
WEIGHTS_ENV_VAR = "GENZOO_INCEPTION_WEIGHTS"
#: The image size Inception-v3 reads.
INCEPTION_SIZE = 299


def inception_weights_path(weights: str | os.PathLike[str] | None = None) -> Path:
    """The Inception-v3 weights file: ``weights``, else ``$GENZOO_INCEPTION_WEIGHTS``, else where
    torch-fidelity downloads it (``<torch hub dir>/checkpoints/weights-inception-...pth``)."""
    if weights is not None:
        return Path(os.fspath(weights)).expanduser()
    env = os.environ.get(WEIGHTS_ENV_VAR, "")
    if env:
        return Path(env).expanduser()
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_URL.rsplit("/", 1)[1]


def require_inception(weights: str | os.PathLike[str] | None = None) -> Path:
    """Check that Inception features can be computed here; return the weights file.

    Raises:
        MetricsError: torch-fidelity is not installed, or the weights file is missing; the
            message says how to install or download them.
    """
    _extractor_class()
    path = inception_weights_path(weights)
    if not path.is_file():
        raise MetricsError(
            f"Inception features need the Inception-v3 weights, and {path} does not exist. "
            f"Download them once (this needs the internet): curl -L --create-dirs -o '{path}' "
            f"{INCEPTION_WEIGHTS_URL} ; or put the file elsewhere and pass weights=PATH "
            f"(--weights) or set {WEIGHTS_ENV_VAR}. genzoo's own feature networks need no download."
        )
    return path


class InceptionNet(nn.Module):
    """torch-fidelity's Inception-v3 as a genzoo feature network: float images in ``[0, 1]`` of
    ``channels×299×299`` in, 2048 pool features out.

    Args:
        extractor: torch-fidelity's ``FeatureExtractorInceptionV3`` (or a stand-in): ``uint8``
            RGB in, a tuple whose first item is ``N×2048`` out.
        channels: The data's channel count (grey images are repeated to RGB).
    """

    feature_dim = 2048
    num_classes = 0

    def __init__(self, extractor: nn.Module, channels: int) -> None:
        super().__init__()
        self.extractor = extractor
        self.input_shape = (int(channels), INCEPTION_SIZE, INCEPTION_SIZE)

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        """The pool features of float images in ``[0, 1]`` (and no logits)."""
        x = images.mul(255).round_().to(torch.uint8)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.extractor(x.contiguous())[0].float(), None


def inception_network(channels: int, weights: str | os.PathLike[str] | None,
                      device: torch.device) -> tuple[InceptionNet, str]:
    """Inception-v3 for images of ``channels`` channels, on ``device``, and its weights' hash.

    Raises:
        MetricsError: see :func:`require_inception`.
    """
    path = require_inception(weights)
    extractor = _extractor_class()("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))
    return InceptionNet(extractor, channels).to(device).eval(), weights_sha256(path)


def _extractor_class() -> type[nn.Module]:
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError as err:
        raise MetricsError(
            "Inception features need torch-fidelity (which torchmetrics' FID uses too), and it is "
            f"not installed ({err}). Install it with: pip install 'torchmetrics[image]' "
            "(or: pip install torch-fidelity). genzoo's own feature networks need neither."
        ) from err
    return FeatureExtractorInceptionV3
