"""The random streams of a run in several processes: one shared data order, per-rank noise."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch

from .distributed import World

__all__ = ["RandomStreams", "skip_batches"]


class RandomStreams:
    """In several processes, keep the data order's random stream shared by all ranks and give
    each rank its own stream for the draws made while training. In one process: a no-op.

    A checkpoint written mid-epoch keeps the shared stream as it was before that epoch's order
    was drawn, so that a resumed run draws the same order again and skips the batches done.
    Checkpoints keep every rank's noise stream too (``noise``: one state per rank), so a run
    resumed in as many processes draws the same noise as an uninterrupted one.
    """

    def __init__(self, world: World, salt: int, noise: list[torch.Tensor] | None = None) -> None:
        self.world = world
        if world.size > 1:
            self.shared, self.noise = world.split_random_streams(torch.initial_seed() + salt)
            if noise is not None and len(noise) == world.size:
                self.noise = noise[world.rank]
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
        """``state`` (from :func:`capture_rng`) with the shared stream a resume must restart and
        every rank's noise stream (a collective: every rank calls it)."""
        if self.world.size > 1:
            state = {**state, "torch": self.epoch_start if mid_epoch else self.shared,
                     "noise": self.world.all_gather(torch.get_rng_state())}
        return state


def skip_batches(batches: Iterator[Any], n: int) -> int:
    """Move ``batches`` past ``n`` batches; return how many it had.

    An iterator with a ``skip(n)`` method (a :class:`genzoo.data.StreamingLoader`'s) is asked
    to skip without producing the batches (a streamed data set then decodes no images for
    them); any other is advanced with ``next``.
    """
    skip = getattr(batches, "skip", None)
    if callable(skip):
        return int(skip(n))
    done = 0
    while done < n and next(batches, None) is not None:
        done += 1
    return done


class _prepend(Iterator[Any]):  # noqa: N801 - used like the generator it replaced
    """``first``, then ``rest``; skipping forwards to ``rest``."""

    def __init__(self, first: Any, rest: Iterator[Any]) -> None:
        self._first: list[Any] = [first]
        self._rest = rest

    def __next__(self) -> Any:
        return self._first.pop() if self._first else next(self._rest)

    def skip(self, n: int) -> int:
        done = 0
        if n and self._first:
            self._first.clear()
            done = 1
        return done + skip_batches(self._rest, n - done)
