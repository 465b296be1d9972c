"""Data sets for genzoo: named sets, image folders, IDX files, and loaders in memory or from disk.

Importing this package is cheap: torchvision and PIL are imported only when a
function needs them.

Example:
    >>> from genzoo.data import load_images, make_loader
    >>> train = load_images("cifar10")  # doctest: +SKIP
    >>> loader = make_loader(train, batch_size=128, device="cuda")  # doctest: +SKIP
"""

from __future__ import annotations

from genzoo.data.batching import BatchLoader
from genzoo.data.catalog import DatasetInfo
from genzoo.data.errors import DataError
from genzoo.data.folder import IMAGE_EXTENSIONS, load_folder
from genzoo.data.idx import read_idx, write_idx
from genzoo.data.image_set import ImageSet
from genzoo.data.loader import InMemoryLoader
from genzoo.data.loaders import make_loader
from genzoo.data.named_sets import dataset_info, dataset_names, is_dataset_name, load_images
from genzoo.data.roots import DATA_ENV_VAR, data_root
from genzoo.data.sources import load_source
from genzoo.data.streamed import StreamedImageSet
from genzoo.data.streaming import StreamingLoader

__all__ = [
    "DATA_ENV_VAR",
    "IMAGE_EXTENSIONS",
    "BatchLoader",
    "DataError",
    "DatasetInfo",
    "ImageSet",
    "InMemoryLoader",
    "StreamedImageSet",
    "StreamingLoader",
    "data_root",
    "dataset_info",
    "dataset_names",
    "is_dataset_name",
    "load_folder",
    "load_images",
    "load_source",
    "make_loader",
    "read_idx",
    "write_idx",
]
