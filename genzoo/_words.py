"""Small helpers for the wording of messages."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """``"1 epoch"``, ``"2 epochs"``: ``count`` and ``noun``, plural unless ``count`` is 1."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def model_label(model: object) -> str:
    """How messages name ``model``: ``"model 'vae'"`` by the name it was built under (what the
    user typed), else its class name for an object built some other way."""
    name = getattr(model, "registry_name", "") or ""
    return f"model {name!r}" if name else type(model).__name__
