"""What an evaluation returns, and how it is shown: the scores with their intervals, the
real-data floor and the protocol card, as JSON-ready records and as text.

* :class:`Scores` holds the numbers of one set of images, each with its interval; :class:`Metrics`
  the images' scores, the floor's and the card. Their ``as_dict``/``from_dict`` (``as_record``/
  ``from_record``) are the JSON files ``genzoo eval`` writes and ``--compare`` reads.
* The **protocol card** (:class:`ProtocolCard`) is everything that changes an evaluation's
  numbers, printed and saved with them. Two results are comparable only when their cards are
  equal (:func:`card_differences`): the same reference data (by content fingerprint) and split,
  sample count, sampling seed and block, feature network (by a hash of its weights), resize
  filter, metric settings, bootstrap settings and software versions. The model is not on the
  card: it is what a comparison compares.
* :func:`format_metrics`, :func:`format_card`, :func:`format_comparison` and
  :func:`markdown_table` write them as text: each number with its interval beside the
  real-data floor, the card, comparisons of two results, and markdown rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .scoring import Interval

__all__ = ["METRIC_NAMES", "Scores", "Metrics", "ProtocolCard", "card_differences", "LABELS",
           "format_metrics", "format_card", "format_comparison", "markdown_table"]

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


# -- as text ------------------------------------------------------------------------------------

#: Display names, with the direction that is better.
LABELS = {"fid": "FID ↓", "kid": "KID ↓", "precision": "precision ↑", "recall": "recall ↑",
          "density": "density (1 = data)", "coverage": "coverage ↑",
          "classifier_score": "classifier score ↑"}


def format_metrics(metrics: Metrics) -> str:
    """A plain-text table: each number with its interval, beside the real-data floor's."""
    names = metrics.scores.names()
    width = max(len(LABELS[name]) for name in names)
    level = metrics.card.bootstrap.get("level", 0.95)
    lines = [f"{'metric':<{width}}  {'model':>10}  {f'{level:.0%} interval':>21}  "
             f"{'real-data floor':>15}  {'its interval':>21}"]
    for name in names:
        lines.append(f"{LABELS[name]:<{width}}  {_number(metrics.scores, name)}  "
                     f"{_number(metrics.floor, name, 15)}")
    return "\n".join(lines)


def format_card(metrics: Metrics) -> str:
    """The protocol card, one setting per line."""
    return "\n".join(["protocol card:"] + [f"  {line}" for line in metrics.card.lines()])


def format_comparison(a: Metrics, b: Metrics, names: tuple[str, str] = ("A", "B")) -> tuple[bool, str]:
    """Two results side by side when their cards are equal; else the settings that differ.

    Returns:
        Whether they are comparable, and the text to show.
    """
    differences = card_differences(a.card, b.card)
    if differences:
        lines = [f"NOT COMPARABLE: the protocol cards differ in {len(differences)} setting(s):"]
        for path, left, right in differences:
            lines.append(f"  {path}: {names[0]} {left!r}  vs  {names[1]} {right!r}")
        return False, "\n".join(lines)
    shown = [name for name in METRIC_NAMES if name in a.scores.names() and name in b.scores.names()]
    width = max(len(LABELS[name]) for name in shown)
    lines = [f"comparable: the same protocol card ({a.n} images against {a.dataset}).",
             f"{'metric':<{width}}  {names[0]:>32}  {names[1]:>32}  {'real-data floor':>32}"]
    for name in shown:
        lines.append(f"{LABELS[name]:<{width}}  {_number(a.scores, name, 10):>32}  "
                     f"{_number(b.scores, name, 10):>32}  {_number(a.floor, name, 10):>32}")
    return True, "\n".join(lines)


def markdown_table(rows: Sequence[tuple[str, Metrics]]) -> str:
    """A markdown table with one row per ``(name, metrics)``, each number with its interval,
    and per distinct card's data and ``n`` a row for the real-data floor."""
    names = [name for name in METRIC_NAMES if all(name in m.scores.names() for _, m in rows)]
    header = "| run | n | " + " | ".join(LABELS[name] for name in names) + " |"
    lines = [header, "|" + "---|" * (2 + len(names))]
    for name, metrics in rows:
        lines.append(f"| {name} | {metrics.n} | "
                     + " | ".join(_cell(metrics.scores, m) for m in names) + " |")
    floors = {(m.dataset, m.n): m for _, m in rows}
    for (dataset, n), metrics in floors.items():
        lines.append(f"| *real data: {dataset}, {metrics.card.floor_n} images* | {n} | "
                     + " | ".join(_cell(metrics.floor, m) for m in names) + " |")
    return "\n".join(lines)


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


def _number(scores: Scores, name: str, width: int = 10) -> str:
    value = getattr(scores, name)
    low, high = scores.intervals.get(name, (float("nan"), float("nan")))
    return f"{_fmt(value):>{width}}  [{_fmt(low):>8}, {_fmt(high):>8}]"


def _fmt(value: float) -> str:
    if value != value:  # nan
        return "n/a"
    if value != 0 and abs(value) < 0.01:
        return f"{value:.2e}"
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"


def _cell(scores: Scores, name: str) -> str:
    low, high = scores.intervals.get(name, (float("nan"), float("nan")))
    return f"{_fmt(getattr(scores, name))} [{_fmt(low)}, {_fmt(high)}]"
