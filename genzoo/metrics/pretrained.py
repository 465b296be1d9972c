"""Optional: the pretrained feature networks torch-fidelity offers, when their weights are on disk.

``features="inception"`` is the Inception-v3 papers report FID in (the network torchmetrics' FID
uses too); ``"vgg16"``, ``"clip-vit-b-32"`` (and the other CLIP models) and ``"dinov2-vit-s-14"``
(and the other DINOv2 sizes) are the newer feature spaces recent papers add beside it (Stein et
al., 2023, recommend DINOv2). All run through torch-fidelity's own extractors, which genzoo's
``pretrained`` extra installs (``pip install "genzoo[pretrained]"``). Their weights are downloaded
once, which needs the internet; genzoo never downloads them itself, and without them the error
says where to put them (:data:`PRETRAINED` lists the files).

torch-fidelity unpickles a weights file with ``weights_only=False`` (and CLIP's is a TorchScript
archive), which would run any code a crafted file holds. So genzoo checks every weights file
before torch-fidelity sees it: a CLIP file must match its published SHA-256; any other must
load with ``weights_only=True`` as a table of tensors. torch-fidelity then gets a private copy
of the bytes genzoo checked (and hashed for the card), never the file a user named, which could
change in between. A file that fails says so in one line.

Images are resized to the network's input size with genzoo's one filter (so the network's own
resize does nothing), grey images are repeated to three channels, and the features torch-fidelity
uses for FID are compared. ImageNet networks fit 28×28 digits poorly and are slow on a CPU: prefer
the default feature networks, and quote these for comparison with papers.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..extras import require
from .errors import MetricsError

__all__ = ["Pretrained", "PRETRAINED", "pretrained_weights_path", "require_pretrained",
           "pretrained_network", "PretrainedNet", "inception_weights_path", "require_inception",
           "INCEPTION_WEIGHTS_URL", "WEIGHTS_ENV_VAR"]

_CLIP_URL = "https://openaipublic.azureedge.net/clip/models/{hash}/{file}.pt"


@dataclass(frozen=True)
class Pretrained:
    """One pretrained feature network torch-fidelity offers.

    Attributes:
        name: genzoo's name for it (``features=``); torch-fidelity's registry name too, but
            ``"inception"`` for its ``"inception-v3-compat"``.
        feature: The torch-fidelity feature (layer) compared: the one it uses for FID.
        dim: The feature's width.
        size: The square input size the network reads.
        url: Where its weights come from (``None``: through ``torch.hub``'s repository cache).
        file: The weights' file name where torch-fidelity (or torchvision, or ``torch.hub``)
            keeps them, in ``<torch hub dir>/checkpoints``.
        hub_repo: For networks loaded through ``torch.hub`` (DINOv2): the repository whose code
            must be in the hub cache too.
        sha256: The weights file's published SHA-256, where one is published in full (CLIP's
            TorchScript archives, which cannot be loaded with ``weights_only=True``).
    """

    name: str
    feature: str
    dim: int
    size: int
    url: str | None
    file: str
    hub_repo: str | None = None
    sha256: str | None = None

    @property
    def fidelity_name(self) -> str:
        """Its name in torch-fidelity's feature-extractor registry."""
        return "inception-v3-compat" if self.name == "inception" else self.name

    def download_hint(self, path: Path) -> str:
        """How to get the weights onto this machine (said when they are missing)."""
        if self.hub_repo is not None:
            model = self.file.split("_pretrain")[0]
            return (f"Run once on a machine with the internet (then copy {Path(torch.hub.get_dir())} "
                    f"over): python -c \"import torch; torch.hub.load('{self.hub_repo}', '{model}')\"")
        return (f"Download them once (this needs the internet): curl -L --create-dirs -o '{path}' "
                f"{self.url} ; or put the file elsewhere and pass weights=PATH (--weights)")


def _clip(name: str, file: str, digest: str, dim: int, size: int = 224) -> Pretrained:
    return Pretrained(name, "clip", dim, size, _CLIP_URL.format(hash=digest, file=file),
                      f"{name}-{digest}.pt", sha256=digest)


def _dinov2(size: str, dim: int) -> Pretrained:
    model = f"dinov2_vit{size}14"
    return Pretrained(f"dinov2-vit-{size}-14", "dinov2", dim, 224,
                      f"https://dl.fbaipublicfiles.com/dinov2/{model}/{model}_pretrain.pth",
                      f"{model}_pretrain.pth", hub_repo="facebookresearch/dinov2")


#: Environment variable naming the Inception-v3 weights file elsewhere.
WEIGHTS_ENV_VAR = "GENZOO_INCEPTION_WEIGHTS"
#: Where torch-fidelity (and so torchmetrics) downloads the Inception-v3 weights from.
INCEPTION_WEIGHTS_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                         "weights-inception-2015-12-05-6726825d.pth")

#: The pretrained feature networks, by genzoo's name (``features=``, ``--features``).
PRETRAINED: dict[str, Pretrained] = {spec.name: spec for spec in (
    Pretrained("inception", "2048", 2048, 299, INCEPTION_WEIGHTS_URL,
               INCEPTION_WEIGHTS_URL.rsplit("/", 1)[1]),
    Pretrained("vgg16", "fc2_relu", 4096, 224, "https://download.pytorch.org/models/vgg16-397923af.pth",
               "vgg16-397923af.pth"),
    _clip("clip-rn50", "RN50", "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762", 1024),
    _clip("clip-vit-b-32", "ViT-B-32", "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af", 512),
    _clip("clip-vit-b-16", "ViT-B-16", "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f", 512),
    _clip("clip-vit-l-14", "ViT-L-14", "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836", 768),
    _dinov2("s", 384),
    _dinov2("b", 768),
    _dinov2("l", 1024),
    _dinov2("g", 1536),
)}


def _spec(name: str) -> Pretrained:
    try:
        return PRETRAINED[name]
    except KeyError:
        raise MetricsError(f"unknown pretrained feature network {name!r}; choose one of "
                           f"{', '.join(PRETRAINED)}") from None


def pretrained_weights_path(name: str, weights: str | os.PathLike[str] | None = None) -> Path:
    """The weights file of the pretrained network ``name``: ``weights``, else (Inception only)
    ``$GENZOO_INCEPTION_WEIGHTS``, else where torch-fidelity downloads it
    (``<torch hub dir>/checkpoints/<file>``).

    Raises:
        MetricsError: an unknown name.
    """
    spec = _spec(name)
    if weights is not None:
        return Path(os.fspath(weights)).expanduser()
    env = os.environ.get(WEIGHTS_ENV_VAR, "") if name == "inception" else ""
    if env:
        return Path(env).expanduser()
    return Path(torch.hub.get_dir()) / "checkpoints" / spec.file


def require_pretrained(name: str, weights: str | os.PathLike[str] | None = None) -> Path:
    """Check that the pretrained network ``name`` can run here; return its weights file.

    Raises:
        MetricsError: an unknown name, torch-fidelity is not installed, the weights file (or, for
            DINOv2, the ``torch.hub`` cache of its code) is missing, or ``weights`` is given for a
            network torch-fidelity loads only through ``torch.hub``; the message says what to do.
    """
    spec = _spec(name)
    _registry()
    if spec.hub_repo is not None and weights is not None:
        raise MetricsError(f"{name} loads through torch.hub's cache, not from a file; drop "
                           f"weights=/--weights (torch-fidelity cannot take one for it)")
    path = pretrained_weights_path(name, weights)
    missing = [p for p in (path, _hub_code(spec)) if p is not None and not p.exists()]
    if missing:
        raise MetricsError(f"{name} features need its pretrained weights, and {missing[0]} does not "
                           f"exist. {spec.download_hint(path)}. genzoo's own feature networks need "
                           f"no download.")
    return path


def inception_weights_path(weights: str | os.PathLike[str] | None = None) -> Path:
    """Inception-v3's weights file (see :func:`pretrained_weights_path`)."""
    return pretrained_weights_path("inception", weights)


def require_inception(weights: str | os.PathLike[str] | None = None) -> Path:
    """:func:`require_pretrained` for Inception-v3."""
    return require_pretrained("inception", weights)


class PretrainedNet(nn.Module):
    """A torch-fidelity extractor as a genzoo feature network: float images in ``[0, 1]`` of
    ``channels×size×size`` in, the features torch-fidelity uses for FID out.

    Args:
        extractor: torch-fidelity's extractor (or a stand-in): ``uint8`` RGB in, a tuple whose
            first item is ``N×dim`` out.
        channels: The data's channel count (grey images are repeated to RGB).
        spec: Which network it is.
    """

    num_classes = 0

    def __init__(self, extractor: nn.Module, channels: int, spec: Pretrained) -> None:
        super().__init__()
        self.extractor = extractor
        self.feature_dim = spec.dim
        self.input_shape = (int(channels), spec.size, spec.size)

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        """The features of float images in ``[0, 1]`` (and no logits)."""
        x = images.mul(255).round_().to(torch.uint8)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.extractor(x.contiguous())[0].float(), None


def pretrained_network(name: str, channels: int, weights: str | os.PathLike[str] | None,
                       device: torch.device) -> tuple[PretrainedNet, str]:
    """The pretrained network ``name`` for images of ``channels`` channels, on ``device``, and
    its weights' SHA-256.

    Raises:
        MetricsError: see :func:`require_pretrained`.
    """
    spec = _spec(name)
    path = require_pretrained(name, weights)
    with tempfile.TemporaryDirectory(prefix="genzoo-weights-") as private:
        copy, digest = _checked_copy(spec, path, Path(private))
        options = {} if spec.hub_repo is not None else {"feature_extractor_weights_path": str(copy)}
        try:
            extractor = _registry()[spec.fidelity_name](spec.fidelity_name, [spec.feature], **options)
        except (RuntimeError, ValueError, KeyError, TypeError, AttributeError, EOFError,
                pickle.UnpicklingError) as err:  # a table of tensors, but not this network's
            raise MetricsError(f"{path} does not hold the {name} weights torch-fidelity expects "
                               f"({type(err).__name__}: {_first_line(err)}). "
                               f"{spec.download_hint(path)}") from err
    extractor.requires_grad_(False)
    return PretrainedNet(extractor, channels, spec).to(device).eval(), digest


#: The largest weights file genzoo copies and checks (DINOv2's largest is about 4.5 GB).
WEIGHTS_LIMIT = 8 << 30


def _checked_copy(spec: Pretrained, path: Path, private: Path) -> tuple[Path, str]:
    """Copy the weights file ``path`` into the private folder ``private``, hashing it on the
    way, and check the copy: against the published SHA-256 where there is one, else by loading
    it with ``weights_only=True`` (it must be a table of tensors).

    Returns:
        The checked copy and the SHA-256 of its bytes. A network loaded through ``torch.hub``
        reads the file in the hub's cache itself: that file is checked where it is (and
        returned), without a copy.

    Raises:
        MetricsError: the file is not a regular file, too large, does not match its published
            SHA-256, or holds anything but tensors; the message names it and what to do.
    """
    copy = private / path.name if spec.hub_repo is None else path
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as source:
            info = os.fstat(source.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > WEIGHTS_LIMIT:
                what = "is not a regular file" if not stat.S_ISREG(info.st_mode) else \
                    f"holds {info.st_size:,} bytes, more than any {spec.name} weights file"
                raise MetricsError(f"{path} {what}, so it was not read as {spec.name} weights; "
                                   "name the weights file itself")
            with open(copy, "xb") if copy != path else contextlib.nullcontext() as target:
                for block in iter(lambda: source.read(1 << 20), b""):
                    digest.update(block)
                    if target is not None:
                        target.write(block)
    except OSError as err:
        raise MetricsError(f"cannot read the {spec.name} weights {path} or copy them to check "
                           f"them ({err.strerror or err})") from err
    sha256 = digest.hexdigest()
    if spec.sha256 is not None:
        if sha256 != spec.sha256:
            raise MetricsError(f"{path} is not the published {spec.name} weights file: its SHA-256 "
                               f"is {sha256[:16]}..., the published one {spec.sha256[:16]}...; "
                               f"it was not loaded. {spec.download_hint(path)}")
        return copy, sha256
    try:
        state = torch.load(copy, map_location="cpu", weights_only=True,
                           mmap=zipfile.is_zipfile(copy))  # older files cannot be mapped
    except Exception as err:  # noqa: BLE001 - pickled code, damage, not a torch file at all
        raise MetricsError(
            f"{path} is not a plain {spec.name} weights file: torch.load with weights_only=True "
            f"refused it ({_refusal(err)}), so it was not handed to torch-fidelity, which would "
            f"run any code in it. {spec.download_hint(path)}") from err
    tensors = state.values() if isinstance(state, dict) else ()
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in tensors):
        raise MetricsError(f"{path} is not a {spec.name} weights file: it holds a "
                           f"{type(state).__name__}, not a table of tensors. "
                           f"{spec.download_hint(path)}")
    return copy, sha256


def _refusal(err: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, short: the global it names."""
    found = re.search(r"(?:unsupported|Unsupported global:) GLOBAL ([\w.]+)", str(err))
    if found:
        return f"it names {found.group(1)}, which is code, not data"
    if str(err).startswith("Weights only load failed"):  # torch's detail sits further down
        lines = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
        detail = [line for line in lines if not line.startswith(("Please file", "Check the"))]
        return f"not a torch weights file, or damaged: {detail[0] if detail else 'unreadable'}"
    return f"not a torch weights file, or damaged: {type(err).__name__}: {_first_line(err)}"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


def _hub_code(spec: Pretrained) -> Path | None:
    """The ``torch.hub`` cache folder of a hub-loaded network's code (``None`` for the rest)."""
    if spec.hub_repo is None:
        return None
    return Path(torch.hub.get_dir()) / (spec.hub_repo.replace("/", "_") + "_main")


def _registry() -> dict[str, type[nn.Module]]:
    registry = require("torch_fidelity.registry", "pretrained",
                       "Pretrained feature networks (Inception, VGG16, CLIP, DINOv2; genzoo's own "
                       "feature networks need no extra)")
    return registry.FEATURE_EXTRACTORS_REGISTRY
