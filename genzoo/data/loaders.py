"""The right loader for a data set: in memory, or streamed from disk."""

from __future__ import annotations

from typing import Any

from genzoo.data.image_set import ImageSet
from genzoo.data.loader import InMemoryLoader
from genzoo.data.streamed import StreamedImageSet
from genzoo.data.streaming import StreamingLoader

__all__ = ["make_loader"]


def make_loader(data: ImageSet | StreamedImageSet, **kwargs: Any) -> InMemoryLoader | StreamingLoader:
    """An :class:`InMemoryLoader` for an :class:`ImageSet`, a :class:`StreamingLoader` for a
    :class:`StreamedImageSet`; both batch, shuffle, shard and resume alike.

    Args:
        data: What :func:`load_images`, :func:`load_source` or :func:`load_folder` returned.
        **kwargs: ``batch_size``, ``shuffle``, ``drop_last``, ``device`` (and ``workers``,
            ``prefetch`` for a streamed set).

    Returns:
        The loader.
    """
    if isinstance(data, StreamedImageSet):
        return StreamingLoader(data, **kwargs)
    return InMemoryLoader.from_image_set(data, **kwargs)
