import pytest
import torch

from genzoo.data import DataError, ImageSet, InMemoryLoader


def _images(n: int = 10) -> torch.Tensor:
    # image i is filled with value i, so batches reveal their indices
    return torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()


def _order(batches) -> list[int]:
    return [int(v) for b in batches for v in (b[0] if isinstance(b, tuple) else b)[:, 0, 0, 0]]


def test_batches_and_dtype() -> None:
    loader = InMemoryLoader(_images(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 == len(batches)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert all(b.dtype == torch.uint8 and b.shape[1:] == (1, 2, 2) for b in batches)
    assert sorted(_order(batches)) == list(range(10))
    assert loader.image_shape == (1, 2, 2) and loader.dataset_size == 10


def test_float_images_kept() -> None:
    loader = InMemoryLoader(_images(6).float(), batch_size=6)
    assert next(iter(loader)).dtype == torch.float32


def test_drop_last() -> None:
    loader = InMemoryLoader(_images(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [len(b) for b in loader] == [4, 4]


def test_no_shuffle_keeps_order_and_rng() -> None:
    loader = InMemoryLoader(_images(10), batch_size=3, shuffle=False)
    state = torch.get_rng_state()
    assert _order(loader) == list(range(10))
    assert torch.equal(state, torch.get_rng_state())  # consumes no random numbers


def test_reshuffles_each_epoch() -> None:
    torch.manual_seed(0)
    loader = InMemoryLoader(_images(50), batch_size=7)
    first, second = _order(loader), _order(loader)
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second


def test_same_order_after_rng_restore() -> None:
    loader = InMemoryLoader(_images(50), batch_size=8)
    torch.manual_seed(123)
    a = _order(loader)
    state = torch.get_rng_state()
    b = _order(loader)
    torch.manual_seed(123)
    assert _order(loader) == a
    torch.set_rng_state(state)
    assert _order(loader) == b


def test_order_drawn_at_iter_time() -> None:
    loader = InMemoryLoader(_images(50), batch_size=8)
    torch.manual_seed(5)
    it = iter(loader)
    torch.manual_seed(99)  # must not change the epoch already started
    a = _order(it)
    torch.manual_seed(5)
    assert _order(loader) == a


def test_labels_tuples() -> None:
    labels = torch.arange(10) * 10
    loader = InMemoryLoader(_images(10), labels, batch_size=4)
    for x, y in loader:
        assert x.dtype == torch.uint8 and y.dtype == torch.int64
        assert (x[:, 0, 0, 0].long() * 10).tolist() == y.tolist()


def test_from_image_set() -> None:
    s = ImageSet(_images(6), torch.arange(6), "toy")
    loader = InMemoryLoader.from_image_set(s, batch_size=4, shuffle=False)
    x, y = next(iter(loader))
    assert x.shape == (4, 1, 2, 2) and y.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shard_disjoint_equal(world: int) -> None:
    loader = InMemoryLoader(_images(50), batch_size=4)
    shards = [loader.shard(r, world) for r in range(world)]
    lengths = {len(s) for s in shards}
    assert len(lengths) == 1
    for _ in range(2):
        seen: list[list[int]] = []
        for s in shards:
            torch.manual_seed(7)  # every rank seeds its global RNG alike
            batches = list(s)
            assert len(batches) == len(s)
            seen.append(_order(batches))
        flat = [i for rank in seen for i in rank]
        assert len(flat) == len(set(flat)) == (50 // world) * world
        assert {len(r) for r in seen} == {50 // world}


def test_shard_drop_last() -> None:
    loader = InMemoryLoader(_images(50), batch_size=4, drop_last=True)
    shards = [loader.shard(r, 3) for r in range(3)]  # 16 samples per rank -> 4 batches
    assert [len(s) for s in shards] == [4, 4, 4]
    assert all(len(b) == 4 for s in shards for b in s)


def test_to_and_device() -> None:
    loader = InMemoryLoader(_images(4), batch_size=2, device="cpu")
    assert loader.device == torch.device("cpu")
    assert loader.to("cpu") is loader


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda() -> None:
    loader = InMemoryLoader(_images(10), torch.arange(10), batch_size=4)
    gpu = loader.to("cuda")
    assert gpu is not loader and gpu.device.type == "cuda" and loader.device.type == "cpu"
    torch.manual_seed(3)
    a = _order(loader)
    torch.manual_seed(3)
    batches = list(gpu)
    assert all(x.is_cuda and y.is_cuda and x.dtype == torch.uint8 for x, y in batches)
    assert _order([(x.cpu(), y) for x, y in batches]) == a
    assert InMemoryLoader(_images(4), batch_size=2, device="cuda").to("cuda").device.type == "cuda"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"batch_size": 11, "drop_last": True}, "no batch"),
        ({"batch_size": 2, "labels": torch.arange(9)}, "9 labels"),
        ({"batch_size": 2, "images": torch.zeros(10, 2, 2)}, "4-D"),
        ({"batch_size": 2, "images": torch.zeros(0, 1, 2, 2)}, "empty"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    images = kwargs.pop("images", _images(10))
    with pytest.raises(DataError, match=match):
        InMemoryLoader(images, **kwargs)


def test_bad_shard_arguments() -> None:
    loader = InMemoryLoader(_images(10), batch_size=4, drop_last=True)
    for rank, world in [(2, 2), (-1, 2), (0, 0)]:
        with pytest.raises(DataError, match="rank"):
            loader.shard(rank, world)
    with pytest.raises(DataError, match="no batch"):
        loader.shard(0, 3)  # 3 samples per rank < batch_size 4
    with pytest.raises(DataError, match="already sharded"):
        loader.shard(0, 2).shard(0, 1)
    with pytest.raises(DataError, match="cannot be split"):
        InMemoryLoader(_images(2), batch_size=1).shard(0, 3)
