"""What an evaluation returns: the scores with their intervals, the floor, and the card."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .scoring import Interval
from .card import ProtocolCard

__all__ = ["METRIC_NAMES", "Scores", "Metrics"]

#: The metrics' names, in the order reports show them (``classifier_score`` only where the data
#: has labels).
METRIC_NAMES = ("fid", "kid", "precision", "recall", "density", "coverage", "classifier_score")


@dataclass(frozen=True)
class Scores:
    """The numbers for one set of images, each with its confidence interval.

    Attributes:
        fid: Fréchet distance to the reference images in the feature network's features (lower
            is better; biased upwards at small ``n``, so compare at the same ``n`` only).
        kid: Kernel distance (unbiased squared MMD, polynomial kernel; lower is better, 0 for
            matching distributions, valid at small ``n``).
        precision: Share of the images on the real images' k-NN manifold (fidelity).
        recall: Share of real images on the images' k-NN manifold (diversity).
        density: How many real k-NN balls hold each image, divided by ``k`` (about 1 when the
            images match the data).
        coverage: Share of real images whose own ball holds an image (diversity, robust to
            outliers).
        classifier_score: ``exp(E KL(p(y|x) || p(y)))`` from the domain classifier, between 1
            and the number of classes (higher is better); ``None`` without labels.
        intervals: The bootstrap interval of each number, by name.
    """

    fid: float
    kid: float
    precision: float
    recall: float
    density: float
    coverage: float
    classifier_score: float | None = None
    intervals: Mapping[str, Interval] = field(default_factory=dict)

    def names(self) -> tuple[str, ...]:
        """The names of the numbers present, in :data:`METRIC_NAMES` order."""
        return tuple(name for name in METRIC_NAMES if getattr(self, name) is not None)

    def as_dict(self) -> dict[str, float]:
        """The numbers by name (without intervals)."""
        return {name: getattr(self, name) for name in self.names()}

    def as_record(self) -> dict[str, dict[str, float]]:
        """``{name: {"value": ..., "low": ..., "high": ...}}``, as the JSON files hold them."""
        record = {}
        for name in self.names():
            low, high = self.intervals.get(name, (float("nan"), float("nan")))
            record[name] = {"value": getattr(self, name), "low": low, "high": high}
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Mapping[str, float]]) -> Scores:
        """The inverse of :meth:`as_record`."""
        values = {name: float(entry["value"]) for name, entry in record.items()}
        intervals = {name: Interval(float(entry["low"]), float(entry["high"]))
                     for name, entry in record.items()}
        return cls(**values, intervals=intervals)


@dataclass(frozen=True)
class Metrics:
    """What :func:`~genzoo.metrics.evaluate` measured: the scores, the real-data floor, the card.

    Attributes:
        scores: The images' scores, with intervals.
        floor: The same numbers for real images of the floor split (as many as ``n`` where the
            data has them, else all it has: ``card.floor_n``) against the same reference: the
            best a model can be expected to reach under this protocol.
        card: The protocol card: everything that changes the numbers.
    """

    scores: Scores
    floor: Scores
    card: ProtocolCard

    @property
    def n(self) -> int:
        """How many images were scored."""
        return self.card.n

    @property
    def dataset(self) -> str:
        """The reference data's name."""
        return self.card.data["name"]

    @property
    def fid(self) -> float:
        """See :class:`Scores`."""
        return self.scores.fid

    @property
    def kid(self) -> float:
        """See :class:`Scores`."""
        return self.scores.kid

    @property
    def precision(self) -> float:
        """See :class:`Scores`."""
        return self.scores.precision

    @property
    def recall(self) -> float:
        """See :class:`Scores`."""
        return self.scores.recall

    @property
    def density(self) -> float:
        """See :class:`Scores`."""
        return self.scores.density

    @property
    def coverage(self) -> float:
        """See :class:`Scores`."""
        return self.scores.coverage

    @property
    def classifier_score(self) -> float | None:
        """See :class:`Scores`."""
        return self.scores.classifier_score

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``scores`` and ``floor`` (each ``{name: {value, low, high}}``) and
        ``card``."""
        return {"scores": self.scores.as_record(), "floor": self.floor.as_record(),
                "card": self.card.as_dict()}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Metrics:
        """The inverse of :meth:`as_dict` (extra keys, such as ``model``, are ignored).

        Raises:
            KeyError, TypeError, ValueError: the record is not one :meth:`as_dict` wrote.
        """
        return cls(scores=Scores.from_record(record["scores"]), floor=Scores.from_record(record["floor"]),
                   card=ProtocolCard.from_dict(record["card"]))
