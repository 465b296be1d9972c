"""The random streams of a run in several processes: one shared data order, per-rank noise."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch

from .distributed import World

__all__ = ["RandomStreams"]


class RandomStreams:
    """In several processes, keep the data order's random stream shared by all ranks and give
    each rank its own stream for the draws made while training. In one process: a no-op.

    A checkpoint written mid-epoch keeps the shared stream as it was before that epoch's order
    was drawn, so that a resumed run draws the same order again and skips the batches done.
    """

    def __init__(self, world: World, salt: int) -> None:
        self.world = world
        if world.size > 1:
            self.shared, self.noise = world.split_random_streams(torch.initial_seed() + salt)
            self.epoch_start = self.shared

    def start_epoch(self, batches: Iterable[Any]) -> Iterator[Any]:
        """Iterate ``batches`` with the shared stream drawing the order, then switch to noise."""
        if self.world.size <= 1:
            return iter(batches)
        self.epoch_start = self.shared
        torch.set_rng_state(self.shared)
        iterator = iter(batches)
        first = next(iterator, None)  # the loader draws its order here
        self.shared = torch.get_rng_state()
        torch.set_rng_state(self.noise)
        return iterator if first is None else _prepend(first, iterator)

    def resume_noise(self) -> None:
        """Go back to this rank's stream after a mid-epoch resume restored the saved states."""
        if self.world.size > 1:
            torch.set_rng_state(self.noise)

    def end_epoch(self) -> None:
        """Remember where this rank's noise stream stands at the end of an epoch."""
        if self.world.size > 1:
            self.noise = torch.get_rng_state()

    def checkpoint_state(self, state: dict[str, Any], mid_epoch: bool) -> dict[str, Any]:
        """``state`` (from :func:`capture_rng`) with the shared stream a resume must restart."""
        if self.world.size > 1:
            state = {**state, "torch": self.epoch_start if mid_epoch else self.shared}
        return state


def _prepend(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
