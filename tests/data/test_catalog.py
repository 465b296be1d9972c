"""Every named data set loads from small files written in its real on-disk format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genzoo.data import (
    DataError,
    ImageSet,
    StreamedImageSet,
    dataset_info,
    dataset_names,
    load_images,
    write_idx,
)

from .writers import pickled_exploit, write_celeba, write_cifar, write_emnist, write_stl10, write_svhn


def test_cifar10(tmp_path: Path) -> None:
    written = write_cifar(tmp_path, per_batch=3)
    for split, train in (("train", True), ("test", False)):
        s = load_images("CIFAR-10", root=tmp_path, train=train, download=False)
        x, y = written[split]
        assert isinstance(s, ImageSet) and s.name == "cifar10" and s.image_shape == (3, 32, 32)
        assert len(s) == (15 if train else 3)  # five training batches
        assert torch.equal(s.images, torch.from_numpy(x)) and s.labels.tolist() == y.tolist()
        assert s.classes[:2] == ("airplane", "automobile") and len(s.classes) == 10


def test_cifar100(tmp_path: Path) -> None:
    written = write_cifar(tmp_path, hundred=True, per_batch=4)
    s = load_images("cifar100", root=tmp_path, download=False)
    assert torch.equal(s.images, torch.from_numpy(written["train"][0]))
    assert s.labels.tolist() == written["train"][1].tolist()  # the fine labels
    assert len(s.classes) == 100 and s.classes[7] == "class7"
    assert len(load_images("cifar100", root=tmp_path, train=False, download=False)) == 4


def test_cifar_pickle_cannot_run_code(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(pickled_exploit())
    with pytest.raises(DataError, match="refusing to load posix.system|refusing to load os.system") as e:
        load_images("cifar10", root=tmp_path, download=False)
    assert str(bad) in str(e.value)


def test_cifar_corrupt_batch_named(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "test_batch"
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(DataError, match="not an intact CIFAR batch") as e:
        load_images("cifar10", root=tmp_path, train=False, download=False)
    assert str(bad) in str(e.value)


def test_svhn(tmp_path: Path) -> None:
    written = write_svhn(tmp_path, {"train": 5, "test": 3, "extra": 2})
    s = load_images("svhn", root=tmp_path, download=False)
    x, y = written["train"]
    assert torch.equal(s.images, torch.from_numpy(x)) and s.labels.tolist() == y.tolist()
    assert s.labels[0] == 0  # stored as 10
    assert len(load_images("svhn:extra", root=tmp_path, download=False)) == 2
    assert len(load_images("svhn", split="test", root=tmp_path, download=False)) == 3


def test_svhn_wrong_arrays(tmp_path: Path) -> None:
    import scipy.io

    (tmp_path / "SVHN").mkdir()
    scipy.io.savemat(tmp_path / "SVHN" / "test_32x32.mat", {"X": np.zeros((28, 28, 1, 2), np.uint8),
                                                             "y": np.ones((2, 1))})
    with pytest.raises(DataError, match="not an SVHN file"):
        load_images("svhn", root=tmp_path, train=False, download=False)


def test_stl10_labelled_and_streamed(tmp_path: Path) -> None:
    written = write_stl10(tmp_path, train=4, test=3, unlabeled=5)
    train = load_images("stl10", root=tmp_path, download=False)
    assert isinstance(train, ImageSet) and train.image_shape == (3, 96, 96)
    assert torch.equal(train.images, torch.from_numpy(written["train"][0]))  # upright, not transposed
    assert train.labels.tolist() == written["train"][1].tolist() and train.classes[7] == "monkey"

    unlabeled = load_images("stl10:unlabeled", root=tmp_path, download=False)
    assert isinstance(unlabeled, StreamedImageSet) and len(unlabeled) == 5 and unlabeled.labels is None
    assert torch.equal(unlabeled.read([4, 0]), torch.from_numpy(written["unlabeled"][0][[4, 0]]))

    both = load_images("stl10", split="train+unlabeled", root=tmp_path, download=False)
    expected = np.concatenate([written["train"][0], written["unlabeled"][0]])
    assert len(both) == 9
    assert torch.equal(both.load().images, torch.from_numpy(expected))
    assert torch.equal(both.read([8, 1, 5]), torch.from_numpy(expected[[8, 1, 5]]))


def test_stl10_truncated(tmp_path: Path) -> None:
    write_stl10(tmp_path)
    path = tmp_path / "stl10_binary" / "unlabeled_X.bin"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataError, match="truncated or corrupted") as e:
        load_images("stl10:unlabeled", root=tmp_path, download=False)
    assert str(path) in str(e.value)


def test_kmnist(make_idx_root) -> None:
    root = make_idx_root("KMNIST", train=12, test=5)
    s = load_images("kmnist", root=root, download=False)
    assert s.image_shape == (1, 28, 28) and len(s) == 12 and s.classes[1] == "ki"


def test_emnist_balanced_is_upright(tmp_path: Path) -> None:
    written = write_emnist(tmp_path, "balanced", classes=47)
    s = load_images("emnist", root=tmp_path, download=False)
    assert s.name == "emnist" and len(s.classes) == 47 and dataset_info("emnist").num_classes == 47
    assert torch.equal(s.images, torch.from_numpy(written["train"][0]))  # transposed back
    assert s.labels.tolist() == written["train"][1].tolist()


def test_emnist_letters_labels_from_zero(tmp_path: Path) -> None:
    written = write_emnist(tmp_path, "letters", classes=26, offset=1)
    s = load_images("emnist_letters", root=tmp_path, train=False, download=False)
    assert s.classes[0] == "a" and len(s.classes) == 26
    assert s.labels.tolist() == written["test"][1].tolist()  # files hold 1..26


def test_idx_label_out_of_range(tmp_path: Path) -> None:
    write_emnist(tmp_path, "digits", classes=10)
    labels = tmp_path / "EMNIST" / "raw" / "emnist-digits-train-labels-idx1-ubyte"
    write_idx(labels, np.array([0, 1, 2, 3, 4, 12], np.uint8))
    with pytest.raises(DataError, match="outside the 10 classes") as e:
        load_images("emnist-digits", root=tmp_path, download=False)
    assert str(labels) in str(e.value)


def test_celeba_streams_centre_crop(tmp_path: Path) -> None:
    colours = write_celeba(tmp_path, [0, 0, 1, 2, 0, 2])
    train = load_images("celeba", root=tmp_path, download=False)
    assert isinstance(train, StreamedImageSet) and len(train) == 3 and train.image_shape == (3, 64, 64)
    images = train.read([2, 0])
    assert images.shape == (2, 3, 64, 64) and images.dtype == torch.uint8
    expected = torch.from_numpy(colours[[4, 0]]).view(2, 3, 1, 1).int()
    assert (images.int() - expected).abs().max() <= 24  # JPEG noise at the edges; no band (128 away)
    assert len(load_images("celeba", split="valid", root=tmp_path, download=False)) == 1
    assert len(load_images("celeba:all", root=tmp_path, download=False)) == 6
    test = load_images("celeba", train=False, root=tmp_path, size=32, download=False)
    assert test.image_shape == (3, 32, 32) and test.read([1]).shape == (1, 3, 32, 32)


def test_celeba_missing_image(tmp_path: Path) -> None:
    write_celeba(tmp_path, [0, 0, 0, 1])
    (tmp_path / "celeba" / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(DataError, match="1 of the 3 CelebA images .* missing") as e:
        load_images("celeba", root=tmp_path, download=False)
    assert "000002.jpg" in str(e.value)


def test_celeba_corrupt_image_named(tmp_path: Path) -> None:
    write_celeba(tmp_path, [0, 0])
    bad = tmp_path / "celeba" / "img_align_celeba" / "000002.jpg"
    bad.write_bytes(b"not a jpeg")
    s = load_images("celeba", root=tmp_path, download=False)
    with pytest.raises(DataError, match="Could not read CelebA image") as e:
        s.read([1])
    assert str(bad) in str(e.value)


@pytest.mark.parametrize("name", [n for n in dataset_names()])
def test_missing_files_name_folder_and_files(tmp_path: Path, name: str) -> None:
    info = dataset_info(name)
    with pytest.raises(DataError, match="not found") as e:
        load_images(name, root=tmp_path, download=False)
    msg = str(e.value)
    assert str(tmp_path / info.folder) in msg and "GENZOO_DATA" in msg and "download=True" in msg


def test_each_set_has_info() -> None:
    for name in dataset_names():
        info = dataset_info(name)
        assert info.name == name and "train" in info.splits or "all" in info.splits
        assert "test" in info.splits and info.download and info.image_shape[0] in (1, 3)
    assert dataset_info("celeba").streamed and dataset_info("stl10").streamed == {"unlabeled", "train+unlabeled"}


def test_split_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no split 'extra'.*train, test"):
        load_images("cifar10:extra", root=tmp_path)
    with pytest.raises(DataError, match="give one of them"):
        load_images("svhn:extra", split="test", root=tmp_path)


def test_channels_and_size(tmp_path: Path) -> None:
    written = write_cifar(tmp_path, per_batch=2)
    gray = load_images("cifar10", root=tmp_path, channels=1, size=16, download=False)
    assert gray.image_shape == (1, 16, 16) and gray.labels.tolist() == written["train"][1].tolist()
    rgb = torch.from_numpy(written["train"][0]).float()
    luma = (rgb * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    small = torch.nn.functional.interpolate(luma, size=16, mode="bicubic", antialias=True)
    assert (gray.images.float() - small.clamp(0, 255)).abs().max() <= 1.0
    with pytest.raises(DataError, match="channels must be"):
        load_images("cifar10", root=tmp_path, channels=2, download=False)
    with pytest.raises(DataError, match="size must be"):
        load_images("cifar10", root=tmp_path, size=0, download=False)


def test_is_dataset_name_and_unknown_info() -> None:
    from genzoo.data import is_dataset_name

    assert is_dataset_name("CIFAR-10") and is_dataset_name("stl10:unlabeled") and is_dataset_name("EMNIST_letters")
    assert not is_dataset_name("imagenet") and not is_dataset_name("./cifar10/x")
    with pytest.raises(DataError, match="Unknown data set 'imagenet'"):
        dataset_info("imagenet")
    with pytest.raises(TypeError):
        dataset_info("cifar10").splits["train"] = 1  # type: ignore[index]


def test_folder_named_like_a_data_set_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from genzoo.data import load_source

    (tmp_path / "cifar10").mkdir()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / "cifar10" / "a.png")
    monkeypatch.chdir(tmp_path)
    s = load_source("cifar10", root=tmp_path / "nowhere", download=False)
    assert isinstance(s, ImageSet) and s.image_shape == (3, 8, 8) and len(s) == 1
