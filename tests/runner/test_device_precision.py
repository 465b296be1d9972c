"""Device choice and mixed precision."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.runner import Precision, resolve_device

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("auto", local_rank=1) == torch.device("cuda", 1)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(genzoo.DeviceError, match="'cuda:2' does not exist: this machine has 2 CUDA"):
        resolve_device("cuda:2")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_missing_devices_are_clear_errors():
    with pytest.raises(genzoo.DeviceError, match="CUDA is not available here"):
        resolve_device("cuda")
    with pytest.raises(genzoo.DeviceError, match="CUDA is not available here"):
        genzoo.build("vae").fit([torch.rand(2, 1, 28, 28)], device="cuda:0", progress=False)


def test_unknown_device():
    with pytest.raises(genzoo.DeviceError, match="unknown device 'gpu0'; use 'auto', 'cpu'"):
        resolve_device("gpu0")
    if not torch.backends.mps.is_available():
        with pytest.raises(genzoo.DeviceError, match="MPS"):
            resolve_device("mps")


def test_fp16_needs_cuda_and_unknown_precisions_are_refused():
    with pytest.raises(genzoo.PrecisionError, match="supported on CUDA only, not on cpu; use precision='bf16'"):
        Precision("16", torch.device("cpu"))
    with pytest.raises(genzoo.PrecisionError):
        genzoo.build("vae").fit([torch.rand(2, 1, 28, 28)], precision="16", device="cpu", progress=False)
    with pytest.raises(genzoo.ConfigError, match="precision.*one of"):
        genzoo.build("vae").fit([torch.rand(2, 1, 28, 28)], precision="int8", progress=False)


def test_precision_aliases():
    opts = genzoo.RunOptions(precision="bf16-mixed")
    assert opts.precision == "bf16"
    assert genzoo.RunOptions(precision="fp16").precision == "16"


def test_bf16_autocast_on_cpu_runs_the_forward_in_bfloat16(mnist_train):
    precision = Precision("bf16", torch.device("cpu"))
    assert precision.make_scaler() is None
    layer = torch.nn.Linear(4, 4)
    with precision.autocast():
        assert layer(torch.rand(2, 4)).dtype == torch.bfloat16
    for name in ("gan", "vae"):
        model = genzoo.build(name, seed=0)
        result = model.fit([mnist_train[i:i + 64] for i in range(0, 512, 64)], epochs=2,
                           precision="bf16", progress=False)
        assert all(torch.isfinite(p).all() for p in model.parameters())
        assert all(v == v for v in result.metrics.values())  # no NaN losses
        assert next(model.parameters()).dtype == torch.float32  # weights stay fp32


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("precision", ["16", "bf16", "32"])
@pytest.mark.parametrize("name", ["gan", "vae"])
def test_cuda_training_in_every_precision(name, precision, mnist_train, tmp_path):
    model = genzoo.build(name, seed=0)
    batches = [mnist_train[i:i + 64] for i in range(0, 512, 64)]  # uint8, converted on the GPU
    result = model.fit(batches, epochs=2, device="cuda", precision=precision, out=tmp_path,
                       progress=False)
    assert model.device.type == "cuda"
    assert all(torch.isfinite(p).all() for p in model.parameters())
    payload = torch.load(result.checkpoint, weights_only=True)
    assert (payload["scaler"] is not None) == (precision == "16")
    resumed = genzoo.build(name, seed=0)
    resumed.fit(batches, epochs=3, device="cuda", precision=precision, out=tmp_path,
                resume="auto", progress=False)
