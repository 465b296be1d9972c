"""Data sets for genzoo: named sets, image folders, IDX files and an in-memory loader.

Importing this package is cheap: torchvision and PIL are imported only when a
function needs them.

Example:
    >>> from genzoo.data import load_images, InMemoryLoader
    >>> train = load_images("mnist")  # doctest: +SKIP
    >>> loader = InMemoryLoader.from_image_set(train, batch_size=128, device="cuda")  # doctest: +SKIP
"""

from __future__ import annotations

from genzoo.data.errors import DataError
from genzoo.data.folder import IMAGE_EXTENSIONS, load_folder
from genzoo.data.idx import read_idx, write_idx
from genzoo.data.image_set import ImageSet
from genzoo.data.loader import InMemoryLoader
from genzoo.data.named_sets import dataset_names, load_images
from genzoo.data.roots import DATA_ENV_VAR, data_root
from genzoo.data.sources import load_source

__all__ = [
    "DATA_ENV_VAR",
    "IMAGE_EXTENSIONS",
    "DataError",
    "ImageSet",
    "InMemoryLoader",
    "data_root",
    "dataset_names",
    "load_folder",
    "load_images",
    "load_source",
    "read_idx",
    "write_idx",
]
