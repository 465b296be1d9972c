"""A feature space: a feature network with the reference images' features, cached together.

Every score compares images in the features of one network: a domain classifier where the data
has labels, a contrastive network genzoo trains on the data where it has none, or a pretrained
network (Inception-v3, CLIP, DINOv2, VGG16) when its weights are on disk. :class:`FeatureSpace`
holds the network and what evaluations reuse: the reference images' features, their kernel sums
for KID, and the real-data floors already computed.

Example:
    >>> from genzoo.metrics import feature_space
    >>> space = feature_space("./my_images")  # doctest: +SKIP
    >>> space.kind, space.weights_sha256[:12]  # doctest: +SKIP
    ('contrastive', '3f1c...')
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import __version__
from .cache import CACHE_FORMAT, CACHE_VERSION, keep_or_warn
from .errors import MetricsError
from .images import RESIZE_FILTER, blockwise, check_images, prepare_images
from .network import ClassifierNet, ContrastiveNet
from .pretrained import PRETRAINED
from .scoring import FrechetReference, kernel_row_sums

__all__ = ["FeatureSpace", "FEATURE_KINDS", "extract_features", "weights_sha256"]

#: The kinds of feature network; ``"auto"`` picks ``"classifier"`` for labelled data, else
#: ``"contrastive"``; the rest are the pretrained networks of :data:`~genzoo.metrics.pretrained.PRETRAINED`.
FEATURE_KINDS = ("auto", "classifier", "contrastive", *PRETRAINED)


class FeatureSpace:
    """A feature network with the reference data's features.

    Build one with :func:`~genzoo.metrics.feature_space` (or :func:`~genzoo.metrics.domain_classifier`),
    which trains or loads it from the cache.

    Args:
        net: The network: ``input_shape``, ``feature_dim`` and ``features_and_logits(images)``.
        kind: ``"classifier"``, ``"contrastive"`` or a pretrained network's name (``"inception"``, ...).
        data: The data's part of the protocol card (see :meth:`EvalData.card
            <genzoo.metrics.eval_data.EvalData.card>`).
        reference: ``M×D`` float32 features of the reference images, in order.
        training: How the network was trained (settings, image count, seconds).
        test_accuracy: A classifier's accuracy on the reference images, else ``None``.
        kernel_sums: The KID kernel row sums of the reference divided by :attr:`kid_scale`
            (computed when ``None``).
        weights_sha256: The hash of the network's weights (computed when ``None``).
        path: Its cache file, or ``None``.
        floors: Real-data floors computed so far, by protocol key.

    Attributes:
        net: The network (in eval mode).
        kind: See above.
        data: See above.
        reference: See above.
        kid_scale: The root-mean-square of the reference features: KID compares features divided
            by it, so its values do not depend on the network's arbitrary scale.
        kernel_sums: See above.
        training: See above.
        test_accuracy: See above.
        path: See above.
        floors: See above.
    """

    def __init__(self, net: nn.Module, *, kind: str, data: Mapping[str, Any], reference: torch.Tensor,
                 training: Mapping[str, Any], test_accuracy: float | None = None,
                 kernel_sums: torch.Tensor | None = None, weights_sha256: str | None = None,
                 path: Path | None = None, floors: Mapping[str, Any] | None = None) -> None:
        self.net = net.eval()
        self.kind = kind
        self.data = dict(data)
        self.reference = reference.detach().to("cpu", torch.float32)
        self.kid_scale = float(self.reference.double().square().mean().sqrt())
        scaled = self.reference / self.kid_scale
        self.kernel_sums = (kernel_row_sums(scaled, scaled, skip_diagonal=True)[0]
                            if kernel_sums is None else kernel_sums)
        self.training = dict(training)
        self.test_accuracy = None if test_accuracy is None else float(test_accuracy)
        self.weights_sha256 = weights_sha256 or _state_sha256(net)
        self.path = path
        self.floors: dict[str, Any] = dict(floors or {})
        self._frechet: FrechetReference | None = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` the network reads; images are resized to it."""
        return tuple(self.net.input_shape)  # type: ignore[return-value]

    @property
    def channels(self) -> int:
        """The reference data's channel count; images must have as many."""
        return int(self.data["image_shape"][0])

    @property
    def num_classes(self) -> int:
        """The classifier's class count (0 for other kinds)."""
        return int(getattr(self.net, "num_classes", 0))

    @property
    def device(self) -> torch.device:
        """Where the network runs."""
        return next(self.net.parameters()).device

    @property
    def frechet(self) -> FrechetReference:
        """FID against the reference features (built on first use)."""
        if self._frechet is None:
            self._frechet = FrechetReference(self.reference)
        return self._frechet

    def to(self, device: str | torch.device) -> FeatureSpace:
        """Move the network to ``device`` (the reference stays on the CPU); returns ``self``."""
        self.net.to(device)
        return self

    @torch.no_grad()
    def features(self, images: torch.Tensor, *,
                 batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The features (and a classifier's class probabilities) of ``images``.

        Images of any size are resized to :attr:`input_shape` (see
        :data:`~genzoo.metrics.images.RESIZE_FILTER`); the network always runs on fixed blocks,
        so ``batch_size`` (images prepared at a time) does not change the results.

        Args:
            images: ``N×C×H×W``: ``uint8``, or floats in ``[0, 1]`` (rounded to 8 bits first, as
                real images are), on any device, with the reference data's channel count.
            batch_size: Images resized and moved to the network's device at a time.

        Returns:
            ``N×D`` float32 features and ``N×K`` probabilities (``None`` without a classifier),
            on the CPU.

        Raises:
            MetricsError: the images have another channel count than the data, or values
                outside ``[0, 1]``.
        """
        check_images(images, self.channels, f"the reference data ({self.data['name']})")
        return extract_features(self.net, images, batch_size=batch_size)

    def card(self) -> dict[str, Any]:
        """The feature network's part of the protocol card."""
        return {"kind": self.kind, "weights_sha256": self.weights_sha256,
                "dim": int(self.reference.shape[1]), "input_shape": list(self.input_shape),
                "resize": RESIZE_FILTER, "training": self.training}

    def remember_floor(self, key: str, record: Mapping[str, Any]) -> None:
        """Keep a real-data floor, in memory and in the cache file."""
        self.floors[key] = dict(record)
        if self.path is not None and not keep_or_warn(self.path, self.payload()):
            self.path = None  # warned once; the floors stay in memory

    def payload(self) -> dict[str, Any]:
        """The cache file's contents: tensors and plain values only (no weights for a pretrained
        network, whose file the user keeps)."""
        net: dict[str, Any] = {"input_shape": list(self.input_shape)}
        if self.kind not in PRETRAINED:
            net |= {"num_classes": self.num_classes,
                    "state_dict": {k: v.detach().cpu() for k, v in self.net.state_dict().items()}}
        return {
            "format": CACHE_FORMAT, "format_version": CACHE_VERSION, "kind": self.kind,
            "net": net, "data": self.data, "reference": self.reference,
            "kernel_sums": self.kernel_sums, "training": self.training,
            "test_accuracy": self.test_accuracy, "weights_sha256": self.weights_sha256,
            "floors": self.floors,
            "versions": {"genzoo": __version__, "torch": str(torch.__version__)},
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], path: Path | None = None, *,
                     net: nn.Module | None = None) -> FeatureSpace:
        """Rebuild a feature space from :meth:`payload`'s dict (``net``: a pretrained network).

        Raises:
            KeyError, TypeError, ValueError, RuntimeError: the payload is incomplete or its
                weights do not fit the network.
        """
        kind, spec = str(payload["kind"]), payload["net"]
        if kind == "classifier":
            net = ClassifierNet(tuple(spec["input_shape"]), int(spec["num_classes"]))
        elif kind == "contrastive":
            net = ContrastiveNet(tuple(spec["input_shape"]))
        elif net is None:
            raise ValueError(f"a {kind} feature space needs its network")
        if kind in ("classifier", "contrastive"):
            net.load_state_dict(spec["state_dict"])
        reference = payload["reference"]
        if reference.dim() != 2 or reference.shape[1] != net.feature_dim:
            raise ValueError(f"reference features of shape {tuple(reference.shape)}")
        return cls(net, kind=kind, data=payload["data"], reference=reference,
                   training=payload["training"], test_accuracy=payload["test_accuracy"],
                   kernel_sums=payload["kernel_sums"], weights_sha256=payload["weights_sha256"],
                   path=path, floors=payload["floors"])

    def __repr__(self) -> str:
        return (f"FeatureSpace(kind={self.kind!r}, data={self.data['name']!r}, "
                f"input_shape={self.input_shape}, weights_sha256={self.weights_sha256[:12]!r}, "
                f"path={str(self.path) if self.path else None!r})")


@torch.no_grad()
def extract_features(net: nn.Module, images: torch.Tensor, *,
                     batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The features (and class probabilities, for a network with logits) of checked images,
    resized to the network's input and run in fixed blocks; on the CPU."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise MetricsError(f"batch_size must be a positive integer, got {batch_size!r}")
    device = next(net.parameters()).device
    size = tuple(net.input_shape[1:])
    features, probs = [], []
    for chunk in images.split(batch_size):
        x = prepare_images(chunk.to(device), size)
        for f, logits in blockwise(net.features_and_logits, x):
            features.append(f.float().cpu())
            if logits is not None:
                probs.append(logits.float().softmax(1).cpu())
    return torch.cat(features), (torch.cat(probs) if probs else None)


def weights_sha256(path: str | Path) -> str:
    """The SHA-256 (hex) of a weights file."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _state_sha256(net: nn.Module) -> str:
    """The SHA-256 (hex) of a network's weights: names, shapes, dtypes and values, in order."""
    digest = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return digest.hexdigest()
