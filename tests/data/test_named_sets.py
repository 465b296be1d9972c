import functools
import hashlib
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from genzoo.data import DataError, dataset_names, load_images, write_idx

SHARED_DATA = (Path(__file__).resolve().parents[2] / "../shared/data").resolve()


def test_dataset_names() -> None:
    names = dataset_names()
    assert names == sorted(names)
    for name in ("mnist", "fashion-mnist", "kmnist", "emnist", "emnist-letters", "cifar10", "cifar100",
                 "svhn", "stl10", "celeba"):
        assert name in names


@pytest.mark.parametrize("name", ["mnist", "MNIST", "fashion-mnist", "fashion_mnist", "FashionMNIST"])
def test_load_shape_and_dtype(mnist_root: Path, name: str) -> None:
    train = load_images(name, root=mnist_root, download=False)
    test = load_images(name, root=mnist_root, train=False, download=False)
    for s in (train, test):
        assert s.images.dtype == torch.uint8 and s.images.dim() == 4
        assert s.image_shape == (1, 28, 28)
        assert s.labels is not None and s.labels.dtype == torch.int64 and len(s.labels) == len(s)
        assert 0 <= int(s.labels.min()) and int(s.labels.max()) <= 9
        assert s.classes is not None and len(s.classes) == 10
        assert s.name in dataset_names()
    if mnist_root == SHARED_DATA:  # sizes only hold for the real data
        assert (len(train), len(test)) == (60000, 10000)
        assert train.images.shape == (60000, 1, 28, 28)
    assert int(train.images.max()) > 200  # the images have ink


def test_env_var_selects_root(monkeypatch: pytest.MonkeyPatch, make_idx_root) -> None:
    root = make_idx_root(train=10, test=5)
    monkeypatch.setenv("GENZOO_DATA", str(root))
    assert len(load_images("mnist", download=False)) == 10
    assert len(load_images("mnist", train=False, download=False)) == 5


def test_gzipped_files_are_read(make_idx_root) -> None:
    root = make_idx_root("FashionMNIST", train=12, test=3, gzip=True)
    assert len(load_images("fashion-mnist", root=root, download=False)) == 12


def test_unknown_name_lists_known() -> None:
    with pytest.raises(DataError, match="Unknown data set 'imagenet'") as e:
        load_images("imagenet")
    assert "fashion-mnist" in str(e.value) and "cifar10" in str(e.value) and "celeba" in str(e.value)


def test_missing_files_without_download(tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        load_images("mnist", root=tmp_path, download=False)
    msg = str(e.value)
    raw = tmp_path / "MNIST" / "raw"
    assert str(raw / "train-images-idx3-ubyte") in msg
    assert str(raw / "train-labels-idx1-ubyte") in msg
    assert ".gz" in msg and "GENZOO_DATA" in msg and "root=" in msg and "download=True" in msg


def test_truncated_file_named(make_idx_root) -> None:
    root = make_idx_root(train=20, test=4)
    path = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError, match="truncated") as e:
        load_images("mnist", root=root, download=False)
    assert str(path) in str(e.value)
    load_images("mnist", root=root, train=False, download=False)  # the other split is fine


def test_label_count_mismatch_named(make_idx_root) -> None:
    root = make_idx_root(train=20, test=4)
    labels = root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    write_idx(labels, np.zeros(19, np.uint8))
    with pytest.raises(DataError) as e:
        load_images("mnist", root=root, download=False)
    assert str(labels) in str(e.value)


# --- the real torchvision download path, exercised without network --------------------------------
# torchvision's downloader cannot read file:// URLs (it needs ``response.length``), so the
# mirror is a folder served by a throw-away HTTP server on 127.0.0.1.


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def serve_folder() -> Iterator[Callable[[Path], str]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def _mirror(make_idx_root, tmp_path: Path, serve) -> tuple[str, list[tuple[str, str]]]:
    """An HTTP mirror of gzipped IDX files, and matching torchvision ``resources``."""
    folder = make_idx_root("mirror", train=40, test=8, gzip=True, seed=7, root=tmp_path) / "mirror" / "raw"
    resources = []
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{split}-{kind}-ubyte.gz"
            resources.append((name, hashlib.md5((folder / name).read_bytes()).hexdigest()))
    return serve(folder), resources


@pytest.mark.parametrize("name, cls_name", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_download_from_file_mirror(
    make_idx_root,
    serve_folder,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, cls_name: str
) -> None:
    import torchvision.datasets as tvd

    url, resources = _mirror(make_idx_root, tmp_path, serve_folder)
    cls = getattr(tvd, cls_name)
    monkeypatch.setattr(cls, "mirrors", [url])
    monkeypatch.setattr(cls, "resources", resources)
    root = tmp_path / "empty root"
    train = load_images(name, root=root, download=True)
    assert len(train) == 40 and train.image_shape == (1, 28, 28)
    assert (root / cls_name / "raw" / "train-images-idx3-ubyte").is_file()
    assert len(load_images(name, root=root, train=False, download=False)) == 8


def test_download_md5_mismatch(make_idx_root, serve_folder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    url, resources = _mirror(make_idx_root, tmp_path, serve_folder)
    monkeypatch.setattr(tvd.MNIST, "mirrors", [url])
    monkeypatch.setattr(tvd.MNIST, "resources", [(f, "0" * 32) for f, _ in resources])
    with pytest.raises(DataError, match="Could not download mnist"):
        load_images("mnist", root=tmp_path / "root", download=True)


def test_download_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    root = tmp_path / "root"
    with pytest.raises(DataError) as e:
        load_images("mnist", root=root, train=False, download=True)
    msg = str(e.value)
    raw = root / "MNIST" / "raw"
    assert f"into {raw}" in msg
    assert str(raw / "t10k-images-idx3-ubyte") in msg and str(raw / "t10k-labels-idx1-ubyte") in msg
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in msg
    assert "GENZOO_DATA" in msg and "root=" in msg


def test_cifar10_download_through_torchvision(serve_folder, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision's CIFAR10 fetches and unpacks the tar.gz (checking its MD5); its own MD5
    checks of the batches then refuse the generated files, and genzoo reads them."""
    import torchvision.datasets as tvd

    from .writers import cifar_tarball, write_cifar

    written = write_cifar(tmp_path / "made", per_batch=2)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = cifar_tarball(tmp_path / "made", mirror / "cifar-10-python.tar.gz")
    monkeypatch.setattr(tvd.CIFAR10, "url", serve_folder(mirror) + archive.name)
    monkeypatch.setattr(tvd.CIFAR10, "tgz_md5", hashlib.md5(archive.read_bytes()).hexdigest())
    root = tmp_path / "root"
    train = load_images("cifar10", root=root, download=True)
    assert torch.equal(train.images, torch.from_numpy(written["train"][0]))
    assert (root / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert len(load_images("cifar10", root=root, train=False, download=False)) == 2


def test_cifar10_download_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.CIFAR10, "url", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    root = tmp_path / "root"
    with pytest.raises(DataError) as e:
        load_images("cifar10", root=root, download=True)
    msg = str(e.value)
    folder = root / "cifar-10-batches-py"
    assert f"Could not download cifar10 (train split) into {folder}" in msg
    assert "Tried: http://127.0.0.1:9/cifar-10-python.tar.gz" in msg
    assert str(folder / "data_batch_1") in msg and str(folder / "batches.meta") in msg
