"""The protocol card: everything that changes an evaluation's numbers, printed and saved with them.

Two results are comparable only when their cards are equal: the same reference data (by content
fingerprint) and split, sample count, sampling seed and block, feature network (by a hash of its
weights), resize filter, metric settings, bootstrap settings and software versions. The model is
not on the card: it is what a comparison compares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ProtocolCard", "card_differences"]


@dataclass(frozen=True)
class ProtocolCard:
    """How a result was made.

    Attributes:
        n: How many images were scored.
        floor_n: How many real images the floor scored (``n``, or all the floor split has).
        data: The reference data: ``name``, ``fingerprint`` (a hash of its images and labels),
            ``image_shape``, ``reference_split``, ``reference_images``, ``floor_split``.
        samples: How the images were drawn: ``seed`` and ``block`` (images per sampling call,
            each block from its own seed), or ``{"given": True}`` for images passed in.
        features: The feature network: ``kind``, ``weights_sha256``, ``dim``, ``input_shape``,
            ``resize`` and how it was trained.
        metrics: The metric settings (``k`` of the k-NN manifolds, KID's kernel).
        bootstrap: ``resamples``, ``level``, ``seed`` and ``method`` of the intervals.
        software: The versions of genzoo and torchmetrics.
    """

    n: int
    floor_n: int
    data: Mapping[str, Any]
    samples: Mapping[str, Any]
    features: Mapping[str, Any]
    metrics: Mapping[str, Any]
    bootstrap: Mapping[str, Any]
    software: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The card as JSON-ready nested dicts (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> ProtocolCard:
        """The inverse of :meth:`as_dict`.

        Raises:
            KeyError, TypeError: ``record`` is not a card.
        """
        return cls(**{name: record[name] for name in cls.__dataclass_fields__})

    def lines(self) -> list[str]:
        """The card as ``key: value`` lines for a terminal, one per setting."""
        return [f"{path}: {_text(value)}" for path, value in _flatten(self.as_dict())]


def card_differences(a: ProtocolCard, b: ProtocolCard) -> list[tuple[str, Any, Any]]:
    """The settings in which two cards differ, as ``(path, value in a, value in b)``; empty when
    the results are comparable."""
    left, right = dict(_flatten(a.as_dict())), dict(_flatten(b.as_dict()))
    return [(path, left.get(path), right.get(path)) for path in sorted(left.keys() | right.keys())
            if left.get(path) != right.get(path)]


def _flatten(record: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in record.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items.extend(_flatten(value, path + "."))
        else:
            items.append((path, value))
    return items


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "×".join(map(str, value)) if all(isinstance(v, int) for v in value) else str(value)
    return str(value)
