"""Hostile inputs through the Python API, in this process: ``genzoo.build``, ``model.sample``,
``model.fit``, ``genzoo.load`` and ``model.save`` with wrong names, values, types, data and files.

Each raises a :class:`genzoo.GenzooError` subclass whose message is one line naming what was
wrong, or succeeds where that is right; a pickled exploit is never run (its marker file is
never made), and a file or folder a call was pointed at is left as it was.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

import genzoo

from . import files_of


@dataclass(frozen=True)
class ApiCase:
    """One call and what must happen: ``"error"`` (a GenzooError of one line containing every
    fragment of ``says``) or ``"ok"``; ``after(tmp)`` checks what must still be true."""

    id: str
    call: Callable[[Path], Any]
    expect: str = "error"
    says: tuple[str, ...] = ()
    after: Callable[[Path], None] | None = None


def run_api_case(case: ApiCase, tmp: Path) -> None:
    if case.expect == "ok":
        case.call(tmp)
    else:
        with pytest.raises(genzoo.GenzooError) as caught:
            case.call(tmp)
        message = str(caught.value)
        assert "\n" not in message, f"a message of several lines: {message!r}"
        for fragment in case.says:
            assert fragment in message, f"{fragment!r} not in {message!r}"
    if case.after is not None:
        case.after(tmp)


def _vae(**config: Any) -> Any:
    return genzoo.build("vae", hidden_dim=8, latent_dim=2, seed=0, **config)


def _fit(data: Any, model: Any = None, **options: Any) -> Callable[[Path], Any]:
    def call(tmp: Path) -> Any:
        return (model or _vae)().fit(data() if callable(data) else data,
                                     **{"epochs": 1, "device": "cpu", "progress": False, **options})
    return call


def _images(*shape: int, value: float | None = None) -> Callable[[], list[torch.Tensor]]:
    return lambda: [torch.rand(*shape) if value is None else torch.full(shape, value)]


def _labelled(labels: list[int] | torch.Tensor) -> Callable[[], list[Any]]:
    return lambda: [(torch.rand(4, 1, 28, 28), torch.as_tensor(labels))]


def _saved(tmp: Path) -> Path:
    _vae().save(tmp / "good.pt")
    return tmp / "good.pt"


class _Exploit:
    """Unpickling calls ``open(MARKER, "w")``: the marker exists only if the pickle was run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def _exploit(kind: str) -> Callable[[Path], Any]:
    def call(tmp: Path) -> Any:
        if kind == "torch":
            torch.save({"model": "vae", "config": {}, "state_dict": _Exploit(tmp / "PWNED")},
                       tmp / "x.pt")
        else:
            (tmp / "x.pt").write_bytes(pickle.dumps(_Exploit(tmp / "PWNED")))
        return genzoo.load(tmp / "x.pt")
    return call


def _not_run(tmp: Path) -> None:
    assert not (tmp / "PWNED").exists(), "loading the file ran its code"


def _bytes(name: str, content: bytes | Callable[[Path], bytes]) -> Callable[[Path], Any]:
    def call(tmp: Path) -> Any:
        data = content(tmp) if callable(content) else content
        (tmp / name).write_bytes(data)
        return genzoo.load(tmp / name)
    return call


def _save_onto(make: Callable[[Path], Path]) -> Callable[[Path], Any]:
    def call(tmp: Path) -> Any:
        target = make(tmp)
        (tmp.parent / f"{tmp.name}.before").write_bytes(pickle.dumps(files_of(tmp)))
        return _vae().save(target)
    return call


def _tmp_unchanged(tmp: Path) -> None:
    before = pickle.loads((tmp.parent / f"{tmp.name}.before").read_bytes())
    assert files_of(tmp) == before, "save() changed what was there"


def _folder_with_a_file(tmp: Path) -> Path:
    (tmp / "full").mkdir()
    (tmp / "full" / "notes.txt").write_text("mine\n", encoding="utf-8")
    return tmp / "full"


_BAD_PIXELS = "expected image values in [0, 1]"

CASES = [
    # --- build -----------------------------------------------------------------------------------
    ApiCase("build-unknown-name", lambda tmp: genzoo.build("nope"),
            says=("no model named 'nope'", "Available models")),
    ApiCase("build-empty-name", lambda tmp: genzoo.build(""), says=("no model named ''",)),
    ApiCase("build-name-none", lambda tmp: genzoo.build(None), says=("no model named None",)),
    ApiCase("build-latent-0", lambda tmp: genzoo.build("vae", latent_dim=0),
            says=("latent_dim must be positive",)),
    ApiCase("build-latent-a-string", lambda tmp: genzoo.build("vae", latent_dim="x"),
            says=("'latent_dim' must be an integer, got 'x'",)),
    ApiCase("build-latent-none", lambda tmp: genzoo.build("vae", latent_dim=None),
            says=("'latent_dim' must be an integer, got None",)),
    ApiCase("build-latent-nan", lambda tmp: genzoo.build("vae", latent_dim=float("nan")),
            says=("'latent_dim' must be an integer, got nan",)),
    ApiCase("build-latent-a-bool", lambda tmp: genzoo.build("vae", latent_dim=True),
            says=("not a bool",)),
    ApiCase("build-latent-a-trillion", lambda tmp: genzoo.build("vae", latent_dim=10**12),
            says=("latent_dim=1000000000000", "use smaller sizes")),
    ApiCase("build-beta-inf", lambda tmp: genzoo.build("vae", beta=float("inf")),
            says=("beta must be a finite number",)),
    ApiCase("build-image-shape-of-one-number", lambda tmp: genzoo.build("vae", image_shape=(1,)),
            says=("'image_shape' must be a tuple", "expected 3 items, got 1")),
    ApiCase("build-image-shape-negative", lambda tmp: genzoo.build("vae", image_shape=(1, -28, 28)),
            says=("image_shape must be (channels, height, width)",)),
    ApiCase("build-unknown-keyword", lambda tmp: genzoo.build("vae", nope=1),
            says=("has no option 'nope'", "Valid options")),
    ApiCase("build-seed-beyond-64-bits", lambda tmp: genzoo.build("vae", seed=10**20),
            says=("does not fit in 64 bits",)),
    ApiCase("build-seed-a-string", lambda tmp: genzoo.build("vae", seed="a"),
            says=("seed must be a whole number, got 'a'",)),
    ApiCase("build-seed-a-fraction", lambda tmp: genzoo.build("vae", seed=1.5),
            says=("seed must be a whole number, got 1.5",)),
    ApiCase("build-gan-no-widths", lambda tmp: genzoo.build("gan", generator_widths=()),
            says=("layer widths must be positive and non-empty",)),
    # --- sample ----------------------------------------------------------------------------------
    ApiCase("sample-0", lambda tmp: _vae().sample(0), says=("n must be a positive whole number", "0")),
    ApiCase("sample-negative", lambda tmp: _vae().sample(-1), says=("got -1",)),
    ApiCase("sample-a-fraction", lambda tmp: _vae().sample(2.5), says=("got 2.5",)),
    ApiCase("sample-true", lambda tmp: _vae().sample(True), says=("got True",)),
    ApiCase("sample-a-string", lambda tmp: _vae().sample("3"), says=("got '3'",)),
    ApiCase("sample-none", lambda tmp: _vae().sample(None), says=("got None",)),
    ApiCase("sample-seed-beyond-64-bits", lambda tmp: _vae().sample(2, seed=10**20),
            says=("does not fit in 64 bits",)),
    ApiCase("sample-seed-a-string", lambda tmp: _vae().sample(2, seed="x"),
            says=("seed must be a whole number",)),
    ApiCase("sample-generator-a-string", lambda tmp: _vae().sample(2, generator="x"),
            says=("generator must be a torch.Generator, got str",)),
    ApiCase("sample-labels-on-an-unconditional-model", lambda tmp: _vae().sample(2, labels=3),
            says=("is not class-conditional",)),
    ApiCase("sample-label-out-of-range", lambda tmp: _vae(num_classes=10).sample(2, labels=99),
            says=("labels must be one class or 2 classes in [0, 10)",)),
    ApiCase("sample-steps-on-a-one-step-model", lambda tmp: _vae().sample(2, steps=5),
            says=("samples in one step",)),
    ApiCase("sample-negative-seed", lambda tmp: _vae().sample(2, seed=-5), expect="ok"),
    # --- fit -------------------------------------------------------------------------------------
    ApiCase("fit-an-empty-list", _fit([]), says=("the data yielded no batches",)),
    ApiCase("fit-a-list-of-strings", _fit(["a", "b"]), says=("got str",)),
    ApiCase("fit-none", _fit(None), says=("data must be an iterable of batches", "NoneType")),
    ApiCase("fit-a-dict-batch", _fit(lambda: [{"x": torch.rand(4, 1, 28, 28)}]), says=("got dict",)),
    ApiCase("fit-one-tensor", _fit(lambda: torch.rand(4, 1, 28, 28)),
            says=("got (1, 28, 28)", "unsqueeze(1)")),
    ApiCase("fit-wrong-shape", _fit(_images(4, 3, 5, 5)), says=("expected images of shape N×1×28×28",)),
    ApiCase("fit-flat-images", _fit(_images(4, 784)), says=("got (4, 784)",)),
    ApiCase("fit-int64-images", _fit(lambda: [torch.randint(0, 2, (4, 1, 28, 28))]),
            says=("got dtype torch.int64",)),
    ApiCase("fit-nan-images", _fit(_images(4, 1, 28, 28, value=float("nan"))),
            says=(_BAD_PIXELS, "nan")),
    ApiCase("fit-images-of-300", _fit(_images(4, 1, 28, 28, value=300.0)), says=(_BAD_PIXELS, "300")),
    ApiCase("fit-negative-images", _fit(lambda: [-torch.rand(4, 1, 28, 28)]),
            says=("normalised to [-1, 1]",)),
    ApiCase("fit-a-batch-of-no-images", _fit(_images(0, 1, 28, 28)), says=("zero images",)),
    ApiCase("fit-labels-out-of-range", _fit(_labelled([0, 1, 2, 99]), lambda: _vae(num_classes=10)),
            says=("label 99, outside 0 to 9",)),
    ApiCase("fit-labels-negative", _fit(_labelled([0, 1, 2, -1]), lambda: _vae(num_classes=10)),
            says=("label -1",)),
    ApiCase("fit-labels-of-another-length", _fit(_labelled([0, 1]), lambda: _vae(num_classes=10)),
            says=("expected 4 labels",)),
    ApiCase("fit-float-labels", _fit(_labelled(torch.rand(4)), lambda: _vae(num_classes=10)),
            says=("labels must be integer classes",)),
    ApiCase("fit-epochs-0", _fit(_images(4, 1, 28, 28), epochs=0), says=("epochs must be a positive",)),
    ApiCase("fit-epochs-a-fraction", _fit(_images(4, 1, 28, 28), epochs=1.5), says=("got 1.5",)),
    ApiCase("fit-unknown-option", _fit(_images(4, 1, 28, 28), nope=3), says=("has no option 'nope'",)),
    ApiCase("fit-device-tpu", _fit(_images(4, 1, 28, 28), device="tpu"), says=("unknown device 'tpu'",)),
    ApiCase("fit-ema-nan", _fit(_images(4, 1, 28, 28), ema=float("nan")), says=("ema must be a decay",)),
    ApiCase("fit-max-norm-negative", _fit(_images(4, 1, 28, 28), max_norm=-1),
            says=("max_norm must be a positive",)),
    ApiCase("fit-seed-beyond-64-bits", _fit(_images(4, 1, 28, 28), seed=10**20),
            says=("does not fit in 64 bits",)),
    ApiCase("fit-resume-a-missing-file", _fit(_images(4, 1, 28, 28), resume="nothere.pt"),
            says=("no checkpoint file at nothere.pt",)),
    ApiCase("fit-out-a-file", lambda tmp: _fit(_images(4, 1, 28, 28), out=str(_saved(tmp)))(tmp),
            says=("is a file, not a folder",)),
    # --- load ------------------------------------------------------------------------------------
    ApiCase("load-a-missing-file", lambda tmp: genzoo.load(tmp / "nothere.pt"),
            says=("no checkpoint file at",)),
    ApiCase("load-a-folder", lambda tmp: genzoo.load(tmp),
            says=("no checkpoint file at", "it is a folder", "checkpoints/last.pt")),
    ApiCase("load-none", lambda tmp: genzoo.load(None), says=("path of a checkpoint file, got NoneType",)),
    ApiCase("load-an-empty-path", lambda tmp: genzoo.load(""), says=("the checkpoint path is empty",)),
    ApiCase("load-garbage", _bytes("g.pt", bytes(range(256)) * 4), says=("not the zip archive",)),
    ApiCase("load-truncated", _bytes("t.pt", lambda tmp: _saved(tmp).read_bytes()[:3000]),
            says=("truncated or corrupted",)),
    ApiCase("load-a-torch-file-with-code", _exploit("torch"), says=("holds objects other than tensors",),
            after=_not_run),
    ApiCase("load-a-raw-pickle-with-code", _exploit("pickle"), says=("not the zip archive",),
            after=_not_run),
    ApiCase("load-override-a-training-setting", lambda tmp: genzoo.load(_saved(tmp), latent_dim=8),
            says=("'latent_dim' is a training setting",)),
    ApiCase("load-override-unknown", lambda tmp: genzoo.load(_saved(tmp), nope=3),
            says=("'nope' is not one of its options",)),
    ApiCase("load-temperature-nan", lambda tmp: genzoo.load(_saved(tmp), temperature=float("nan")),
            says=("temperature must be positive",)),
    ApiCase("load-device-tpu", lambda tmp: genzoo.load(_saved(tmp), device="tpu"),
            says=("unknown device 'tpu'",)),
    ApiCase("load-device-cuda-7", lambda tmp: genzoo.load(_saved(tmp), device="cuda:7"),
            says=("'cuda:7'",)),
    ApiCase("load-weights-unknown", lambda tmp: genzoo.load(_saved(tmp), weights="best"),
            says=("weights must be 'auto', 'ema' or 'raw'",)),
    # --- save ------------------------------------------------------------------------------------
    ApiCase("save-onto-an-empty-folder", _save_onto(lambda tmp: (tmp / "f").mkdir() or tmp / "f"),
            says=("it is a folder", "model.pt"), after=_tmp_unchanged),
    ApiCase("save-onto-a-folder-with-files", _save_onto(_folder_with_a_file),
            says=("it is a folder",), after=_tmp_unchanged),
    ApiCase("save-an-empty-path", _save_onto(lambda tmp: ""), says=("the checkpoint path is empty",),
            after=_tmp_unchanged),
    ApiCase("save-none", _save_onto(lambda tmp: None), says=("got NoneType",), after=_tmp_unchanged),
    ApiCase("save-where-nothing-can-be-written", _save_onto(lambda tmp: Path("/proc/genzoo/x.pt")),
            says=("cannot save to /proc/genzoo/x.pt",), after=_tmp_unchanged),
    ApiCase("save-into-a-missing-deep-folder", _save_onto(lambda tmp: tmp / "a" / "b" / "m.pt"),
            expect="ok", after=lambda tmp: genzoo.load(tmp / "a" / "b" / "m.pt")),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_api(case: ApiCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run_api_case(case, tmp_path)
