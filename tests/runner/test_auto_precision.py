"""precision="auto": bfloat16 only where the device runs it natively and faster, fp32 elsewhere;
the resolved precision is recorded and a resume keeps it; bf16 asked for where it is slower is
warned about once, with the measured slowdown."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

import genzoo
from genzoo import devices
from genzoo.devices import Precision, native_bf16, resolve_precision
from genzoo.runner import LAST_CHECKPOINT

CPU = torch.device("cpu")


def tiny() -> genzoo.GenerativeModel:
    return genzoo.build("vae", seed=0, hidden_dim=16, latent_dim=2, image_shape=(1, 8, 8))


def data() -> list[torch.Tensor]:
    return list(torch.rand(24, 1, 8, 8, generator=torch.Generator().manual_seed(0)).split(4))


def _no_measuring() -> float:
    raise AssertionError("bf16 was measured on a CPU without native bf16")


@pytest.fixture
def cpu_without_bf16(monkeypatch):
    monkeypatch.setattr(devices, "native_bf16", lambda: (False, "no native bf16: AVX2"))


@pytest.fixture
def cpu_with_fast_bf16(monkeypatch):
    monkeypatch.setattr(devices, "native_bf16", lambda: (True, "native bf16: AMX"))
    monkeypatch.setattr(devices, "bf16_slowdown", lambda: 0.5)


def test_auto_is_fp32_on_a_cpu_without_native_bf16_and_measures_nothing(monkeypatch, cpu_without_bf16):
    monkeypatch.setattr(devices, "bf16_slowdown", _no_measuring)
    assert resolve_precision("auto", CPU) == "32"
    precision = Precision("auto", CPU)
    assert (precision.requested, precision.name, precision.dtype) == ("auto", "32", None)


def test_auto_is_bf16_on_a_cpu_with_native_bf16_only_when_measured_faster(monkeypatch):
    monkeypatch.setattr(devices, "native_bf16", lambda: (True, "native bf16: AVX512-BF16"))
    monkeypatch.setattr(devices, "bf16_slowdown", lambda: 0.55)
    assert resolve_precision("auto", CPU) == "bf16"
    monkeypatch.setattr(devices, "bf16_slowdown", lambda: 1.3)  # native, but not faster
    assert resolve_precision("auto", CPU) == "32"
    monkeypatch.setattr(devices, "bf16_slowdown", lambda: None)  # cannot run it at all
    assert resolve_precision("auto", CPU) == "32"
    assert resolve_precision("bf16", CPU) == "bf16" and resolve_precision("32", CPU) == "32"


def test_this_machines_cpu_resolves_auto_to_fp32_unless_it_has_native_bf16():
    native, what = native_bf16()
    assert what.startswith("native bf16" if native else "no native bf16")
    if not native:
        assert resolve_precision("auto", CPU) == "32"


def test_a_bf16_flag_without_avx512_is_not_native_bf16(monkeypatch):
    # as on a virtual machine whose CPUID reports AVX512-BF16 but whose kernels run AVX2
    monkeypatch.setattr(devices.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(devices, "_cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(devices, "_torch_cpu_flag", lambda name: name == "_is_avx512_bf16_supported")
    assert native_bf16() == (False, "no native bf16: AVX2")
    monkeypatch.setattr(devices, "_cpu_capability", lambda: "AVX512")
    assert native_bf16() == (True, "native bf16: AVX512-BF16")
    monkeypatch.setattr(devices, "_torch_cpu_flag", lambda name: name == "_is_amx_tile_supported")
    assert native_bf16() == (True, "native bf16: AMX")


@pytest.fixture
def fresh_measurement(tmp_path, monkeypatch):
    """bf16_slowdown as a new process sees it, its kept readings in ``tmp_path``."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    devices.bf16_slowdown.cache_clear()
    yield tmp_path / "genzoo" / "bf16_slowdown.json"
    devices.bf16_slowdown.cache_clear()


def test_the_measurement_is_kept_so_every_run_on_the_machine_resolves_auto_alike(
        fresh_measurement, monkeypatch):
    readings = iter([0.7, 1.3])  # what two measurements would read, on a busy machine
    monkeypatch.setattr(devices, "_measure_bf16_slowdown", lambda: next(readings))
    assert devices.bf16_slowdown() == 0.7
    devices.bf16_slowdown.cache_clear()  # a later process
    assert devices.bf16_slowdown() == 0.7  # the kept reading, not a second measurement's 1.3
    kept = json.loads(fresh_measurement.read_text())
    assert list(kept.values()) == [0.7] and "threads" in next(iter(kept))
    fresh_measurement.write_text("{not json")  # a damaged file is measured again, and mended
    devices.bf16_slowdown.cache_clear()
    assert devices.bf16_slowdown() == 1.3
    assert list(json.loads(fresh_measurement.read_text()).values()) == [1.3]
    assert [p.name for p in fresh_measurement.parent.iterdir()] == ["bf16_slowdown.json"]


def test_without_a_writable_cache_the_measurement_is_once_per_process(fresh_measurement,
                                                                         monkeypatch):
    fresh_measurement.parent.parent.rmdir()
    fresh_measurement.parent.parent.write_text("a file where the cache folder would be")
    measured = []
    monkeypatch.setattr(devices, "_measure_bf16_slowdown", lambda: measured.append(0.8) or 0.8)
    assert devices.bf16_slowdown() == 0.8  # nothing could be kept, and no error
    assert devices.bf16_slowdown() == 0.8 and measured == [0.8]  # measured once in the process


def test_the_measurement_is_short_and_cached():
    first = devices.bf16_slowdown()
    assert first is None or first > 0
    assert devices.bf16_slowdown() == first  # once per process
    assert devices.bf16_slowdown.cache_info().hits >= 1


def test_explicit_bf16_on_a_cpu_where_it_is_slower_warns_once_with_the_measured_reason(monkeypatch):
    monkeypatch.setattr(devices, "native_bf16", lambda: (False, "no native bf16: AVX2"))
    monkeypatch.setattr(devices, "bf16_slowdown", lambda: 9.8)
    with pytest.warns(UserWarning) as caught:
        tiny().fit(data(), epochs=1, device="cpu", precision="bf16", progress=False)
    mine = [str(w.message) for w in caught if "bf16 autocast" in str(w.message)]
    assert mine == ["bf16 autocast runs convolutions 9.8x slower than fp32 on this CPU (no native "
                    "bf16: AVX2); use --precision fp32 or auto (precision='32' or 'auto')"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # auto and fp32 say nothing, and measure nothing
        monkeypatch.setattr(devices, "bf16_slowdown", _no_measuring)
        tiny().fit(data(), epochs=1, device="cpu", precision="auto", progress=False)
        tiny().fit(data(), epochs=1, device="cpu", precision="32", progress=False)


def test_bf16_measured_faster_is_not_warned_about(monkeypatch, cpu_with_fast_bf16):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny().fit(data(), epochs=1, device="cpu", precision="bf16", progress=False)


def test_the_resolved_precision_is_recorded_and_a_resume_under_auto_keeps_it(tmp_path, monkeypatch,
                                                                             cpu_with_fast_bf16):
    whole = tiny()
    whole.fit(data(), epochs=2, device="cpu", precision="bf16", out=tmp_path / "whole",
              progress=False, seed=3)
    fp32 = tiny()
    fp32.fit(data(), epochs=2, device="cpu", precision="32", out=tmp_path / "fp32", progress=False,
             seed=3)
    first = tiny()
    first.fit(data(), epochs=1, device="cpu", out=tmp_path / "split", progress=False, seed=3)  # auto
    payload = torch.load(tmp_path / "split" / LAST_CHECKPOINT, weights_only=True)
    assert payload["run"]["precision"] == "bf16"
    assert '"precision": "bf16"' in (tmp_path / "split" / "run.json").read_text()

    # the same run resumed where auto would now choose fp32 goes on in bf16, exactly
    monkeypatch.setattr(devices, "native_bf16", lambda: (False, "no native bf16: AVX2"))
    monkeypatch.setattr(devices, "bf16_slowdown", _no_measuring)
    assert resolve_precision("auto", CPU) == "32"
    resumed = tiny()
    resumed.fit(data(), epochs=2, device="cpu", out=tmp_path / "split", resume="auto",
                progress=False)
    assert torch.load(tmp_path / "split" / LAST_CHECKPOINT, weights_only=True)["run"]["precision"] == "bf16"
    same = [torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values())]
    assert all(same)
    assert not all(torch.equal(a, b) for a, b in zip(fp32.state_dict().values(),
                                                      resumed.state_dict().values()))


def test_auto_is_the_default_and_is_taken_everywhere():
    assert genzoo.RunOptions().precision == "auto"
    from genzoo.training import TrainSpec

    assert TrainSpec.from_settings({"precision": "auto"}).options.precision == "auto"
