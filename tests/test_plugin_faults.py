"""Plugins that misbehave at run time: a factory that raises, an import that raises anything
(``SystemExit`` and other ``BaseException`` subclasses included), a runner hook that raises.
Each is reported against the plugin by name and never takes the other models down."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.errors import PluginError
from tests.cli import invoke, ok, user_error
from tests.plugin_packages import TINY_MODEL_SOURCE, install_plugin  # noqa: F401


def _builtins_work() -> None:
    assert genzoo.build("vae", hidden_dim=4, latent_dim=2).registry_name == "vae"


#: One installed plugin whose import and factory fail as the test asks (through environment
#: variables), so that every case reuses one pip-installed distribution.
_FAULTY_PRELUDE = """
import os
if os.environ.get("GZ_FAULT_AT_IMPORT"):
    exec(os.environ["GZ_FAULT_AT_IMPORT"])
"""
_FAULTY_BODY = TINY_MODEL_SOURCE + """

def make(**config):
    import os
    raise eval(os.environ["GZ_FAULT_IN_FACTORY"])


@genzoo.hookimpl
def genzoo_register_models(register):
    register("faulty-model", make)
    register("fine-model", TinyModel)
"""


@pytest.fixture
def faulty(install_plugin, monkeypatch):
    def install(at_import: str = "", in_factory: str = "ValueError('x')"):
        monkeypatch.setenv("GZ_FAULT_AT_IMPORT", at_import)
        monkeypatch.setenv("GZ_FAULT_IN_FACTORY", in_factory)
        install_plugin("gz-faulty", "1.2", entry_point="faulty", prelude=_FAULTY_PRELUDE,
                       body=_FAULTY_BODY)
    return install


@pytest.mark.parametrize("error", ["ValueError('bad width')", "RuntimeError('CUDA kernel missing')",
                                   "KeyError('weights')", "AttributeError('no attribute x')",
                                   "ZeroDivisionError('division by zero')"])
def test_a_factory_that_raises_is_reported_against_its_plugin(faulty, error: str) -> None:
    faulty(in_factory=error)
    kind = error.split("(")[0]
    with pytest.raises(PluginError, match=rf"model 'faulty-model' from gz-faulty 1\.2 \(plugin "
                                          rf"'faulty'\) failed to build: {kind}"):
        genzoo.build("faulty-model")
    assert genzoo.build("fine-model").registry_name == "fine-model"
    _builtins_work()
    user_error(invoke("train", "faulty-model", "--device", "cpu"), "plugin 'faulty'", kind)
    assert "faulty-model" in ok(invoke("list")).stdout


@pytest.mark.parametrize("raise_line", [
    "raise SystemExit(3)",
    "import sys; sys.exit('no licence')",
    "raise GeneratorExit()",
    "class Odd(BaseException): pass\nraise Odd('a BaseException subclass')",
    "raise MemoryError('at import')",
    "raise RecursionError('deep')",
])
def test_a_plugin_that_fails_at_import_whatever_it_raises_is_isolated(faulty, raise_line: str) -> None:
    faulty(at_import=raise_line)
    with pytest.warns(RuntimeWarning, match="genzoo plugin 'faulty' from gz-faulty 1.2 failed to load"):
        assert "fine-model" not in genzoo.list_models()
    _builtins_work()
    [broken] = genzoo.broken_plugins()
    assert broken.name == "faulty"
    with pytest.raises(Exception) as caught:  # never SystemExit & co out of build()
        genzoo.build("faulty")
    assert "faulty" in str(caught.value) or caught.value is broken.error
    result = ok(invoke("list"))
    assert "vae" in result.stdout
    user_error(invoke("train", "faulty", "--device", "cpu"), "faulty")


def test_a_keyboard_interrupt_at_import_still_stops_genzoo(faulty) -> None:
    faulty(at_import="raise KeyboardInterrupt")
    with pytest.raises(KeyboardInterrupt):
        genzoo.list_models()


_HOOKS = {
    "genzoo_fit_start": "model, run",
    "genzoo_epoch_end": "model, run, epoch, metrics",
    "genzoo_checkpoint_saved": "model, run, path",
    "genzoo_fit_end": "model, run",
}


@pytest.mark.parametrize("hook", sorted(_HOOKS))
def test_a_runner_hook_that_raises_costs_one_warning_not_the_epoch(tmp_path, hook: str) -> None:
    namespace: dict = {"genzoo": genzoo, "CALLS": []}
    exec(f"""
@genzoo.hookimpl
def {hook}({_HOOKS[hook]}):
    CALLS.append(1)
    raise RuntimeError("hook bug")
""", namespace)
    plugin = type("Hooky", (), {hook: staticmethod(namespace[hook])})
    genzoo.register_plugin(plugin, name="hooky")
    try:
        images = torch.rand(32, 1, 28, 28)
        model = genzoo.build("vae", hidden_dim=8, latent_dim=2, seed=0)
        with pytest.warns(RuntimeWarning, match=rf"genzoo plugin 'hooky' failed in {hook} "
                                                rf".*RuntimeError: hook bug"):
            result = model.fit([images[:16], images[16:]], epochs=3, out=tmp_path / "run",
                               device="cpu", progress=False, grid_every=0)
    finally:
        genzoo.unregister_plugin("hooky")
    assert result.epochs == 3 and len(result.history) == 3  # no epoch lost
    assert genzoo.load(tmp_path / "run" / "checkpoints" / "last.pt")  # the checkpoint is there
    assert len(namespace["CALLS"]) == 1  # skipped after its first failure
