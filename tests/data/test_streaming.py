"""StreamingLoader: the same batches, order, shards and resume as InMemoryLoader, read from disk."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import genzoo
from genzoo.data import (
    DataError,
    ImageSet,
    InMemoryLoader,
    StreamedImageSet,
    StreamingLoader,
    make_loader,
)
from genzoo.runner import LAST_CHECKPOINT


class Counting:
    """A reader over an in-memory tensor that counts the images it decoded."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images, self.decoded, self.lock = images, 0, threading.Lock()

    def __call__(self, idx: np.ndarray) -> torch.Tensor:
        with self.lock:
            self.decoded += len(idx)
        return self.images[torch.from_numpy(idx)]


def _data(n: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    return images, torch.arange(n) % 7


def _streamed(images: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[StreamedImageSet, Counting]:
    reader = Counting(images)
    return StreamedImageSet(reader, len(images), tuple(images.shape[1:]), name="toy", labels=labels), reader


def _batches(loader, seed: int) -> list:
    torch.manual_seed(seed)
    return list(loader)


def _same(a: list, b: list) -> bool:
    flat = lambda bs: [t for b in bs for t in (b if isinstance(b, tuple) else (b,))]  # noqa: E731
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(flat(a), flat(b)))


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("kwargs", [{}, {"drop_last": True}, {"shuffle": False}])
def test_same_batches_as_in_memory(workers: int, kwargs: dict) -> None:
    images, labels = _data()
    streamed, _ = _streamed(images, labels)
    memory = InMemoryLoader(images, labels, batch_size=8, **kwargs)
    stream = StreamingLoader(streamed, batch_size=8, workers=workers, **kwargs)
    assert len(stream) == len(memory)
    for seed in (0, 1):
        assert _same(_batches(stream, seed), _batches(memory, seed))
    torch.manual_seed(3)
    state = torch.get_rng_state()
    a = list(stream)
    assert not torch.equal(state, torch.get_rng_state()) or not stream.shuffle
    assert a  # the epoch consumed the same random numbers as the in-memory loader does


@pytest.mark.parametrize("world", [2, 3])
def test_shards_match_in_memory(world: int) -> None:
    images, labels = _data(50)
    streamed, _ = _streamed(images, labels)
    for rank in range(world):
        memory = InMemoryLoader(images, labels, batch_size=4).shard(rank, world)
        stream = StreamingLoader(streamed, batch_size=4, workers=1).shard(rank, world)
        assert isinstance(stream, StreamingLoader) and len(stream) == len(memory)
        assert _same(_batches(stream, 9), _batches(memory, 9))


def test_skip_decodes_nothing() -> None:
    images, _ = _data(64)
    streamed, reader = _streamed(images)
    loader = StreamingLoader(streamed, batch_size=8, workers=2)
    expected = _batches(InMemoryLoader(images, batch_size=8), 4)
    torch.manual_seed(4)
    it = iter(loader)
    assert it.skip(5) == 5
    assert reader.decoded == 0  # nothing decoded for the skipped batches
    rest = list(it)
    assert _same(rest, expected[5:])
    assert reader.decoded == 3 * 8
    assert it.skip(2) == 0  # at the end


def test_skip_after_prefetch_drops_decoded_batches() -> None:
    images, _ = _data(64)
    streamed, _ = _streamed(images)
    expected = _batches(InMemoryLoader(images, batch_size=8), 2)
    torch.manual_seed(2)
    it = iter(StreamingLoader(streamed, batch_size=8, workers=2, prefetch=2))
    first = next(it)  # starts decoding batches 1..4 ahead
    assert it.skip(3) == 3
    assert _same([first, *it], [expected[0], *expected[4:]])


def test_resume_mid_epoch_skips_without_decoding(tmp_path) -> None:
    """The runner's mid-epoch resume gives the uninterrupted run's weights and decodes only the
    batches it trains on."""
    images = torch.randint(0, 256, (96, 1, 8, 8), dtype=torch.uint8)

    def model() -> genzoo.GenerativeModel:
        return genzoo.build("vae", seed=0, image_shape=(1, 8, 8), hidden_dim=16, latent_dim=4)

    whole = model()
    whole.fit(StreamingLoader(_streamed(images)[0], batch_size=16, workers=1), epochs=2, seed=5,
              progress=False)
    part = model()
    out = tmp_path / "run"
    part.fit(StreamingLoader(_streamed(images)[0], batch_size=16, workers=0), epochs=2, seed=5,
             out=out, max_steps=9, progress=False)  # 6 batches per epoch: stops after batch 3 of epoch 2
    streamed, reader = _streamed(images)
    resumed = model()
    resumed.fit(StreamingLoader(streamed, batch_size=16, workers=0), epochs=2, out=out,
                resume=str(out / LAST_CHECKPOINT), progress=False)
    assert reader.decoded == 3 * 16  # the 3 batches left, not the 3 skipped
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_reader_errors_reach_the_caller() -> None:
    def broken(idx: np.ndarray) -> np.ndarray:
        raise DataError("Could not read image /data/x.jpg")

    loader = StreamingLoader(StreamedImageSet(broken, 10, (1, 2, 2), name="broken"), batch_size=4, workers=2)
    with pytest.raises(DataError, match="x.jpg"):
        next(iter(loader))


def test_reader_shape_checked() -> None:
    wrong = StreamedImageSet(lambda idx: np.zeros((len(idx), 1, 3, 3), np.uint8), 4, (1, 2, 2), name="wrong")
    with pytest.raises(DataError, match="must return uint8"):
        wrong.read([0])
    with pytest.raises(DataError, match=r"indices must lie in \[0, 4\)"):
        wrong.read([4])


def test_load_and_transformed() -> None:
    images, labels = _data(10)
    streamed, _ = _streamed(images, labels)
    loaded = streamed.load([3, 1])
    assert isinstance(loaded, ImageSet) and loaded.labels.tolist() == [3, 1]
    assert torch.equal(loaded.images, images[[3, 1]])
    rgb = streamed.transformed(channels=3, size=2)
    assert rgb.image_shape == (3, 2, 2) and rgb.read([5]).shape == (1, 3, 2, 2)
    assert int(rgb.read([5]).float().mean().round()) == 5
    assert streamed.transformed() is streamed


def test_make_loader_picks_the_loader() -> None:
    images, labels = _data(10)
    assert isinstance(make_loader(ImageSet(images, labels, "toy"), batch_size=4), InMemoryLoader)
    assert isinstance(make_loader(_streamed(images)[0], batch_size=4, workers=0), StreamingLoader)


def test_bad_arguments() -> None:
    streamed, _ = _streamed(_data(10)[0])
    for kwargs, match in [({"workers": -1}, "workers"), ({"prefetch": 0}, "prefetch"),
                          ({"batch_size": 0}, "batch_size")]:
        with pytest.raises(DataError, match=match):
            StreamingLoader(streamed, **{"batch_size": 4, **kwargs})
    with pytest.raises(DataError, match="StreamedImageSet"):
        StreamingLoader(_data(10)[0], batch_size=4)  # type: ignore[arg-type]


def test_runner_skip_helpers_forward_skip() -> None:
    """In several processes the runner draws the first batch before resuming; skipping through
    that wrapper still decodes nothing more, and plain iterators are advanced with next()."""
    from genzoo.runner.state import _prepend, skip_batches

    images, _ = _data(64)
    streamed, reader = _streamed(images)
    expected = _batches(InMemoryLoader(images, batch_size=8), 6)
    torch.manual_seed(6)
    it = iter(StreamingLoader(streamed, batch_size=8, workers=0))
    first = next(it)
    wrapped = _prepend(first, it)
    assert skip_batches(wrapped, 4) == 4 and reader.decoded == 8
    assert _same(list(wrapped), expected[4:])
    assert skip_batches(iter([1, 2, 3]), 5) == 3
    plain = iter([1, 2, 3])
    assert skip_batches(plain, 2) == 2 and list(plain) == [3]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batches_match_in_memory() -> None:
    images, labels = _data(50)
    streamed, _ = _streamed(images, labels)
    gpu = StreamingLoader(streamed, batch_size=8, workers=2, device="cuda")
    batches = _batches(gpu, 1)
    assert all(x.is_cuda and y.is_cuda for x, y in batches)
    cpu = [(x.cpu(), y.cpu()) for x, y in batches]
    assert _same(cpu, _batches(InMemoryLoader(images, labels, batch_size=8), 1))


def test_in_memory_loader_refuses_a_streamed_set_clearly() -> None:
    streamed, _ = _streamed(_data(10)[0])
    with pytest.raises(DataError, match="StreamingLoader .make_loader picks the right loader"):
        InMemoryLoader.from_image_set(streamed, batch_size=4)  # type: ignore[arg-type]
