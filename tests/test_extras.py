"""Each feature behind an extra says, in one line, which extra to install when its package is
missing (the install tests check the same with the packages really absent)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from genzoo.extras import EXTRAS, NOT_IN_ALL, MissingExtraError, require
from tests.cli import FAST, TINY_GAN, invoke, tiny_root, user_error  # noqa: F401
from tests.data.writers import write_svhn

REPO = Path(__file__).resolve().parents[1]


def _hide(monkeypatch: pytest.MonkeyPatch, *packages: str) -> None:
    """Make ``import PACKAGE`` (and its submodules) fail, installed or not."""
    for name in list(sys.modules):
        if name.partition(".")[0] in packages:
            monkeypatch.delitem(sys.modules, name)
    for package in packages:
        monkeypatch.setitem(sys.modules, package, None)


def test_the_extras_table_is_what_pyproject_declares():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, packages in EXTRAS.items():
        names = {line.split(">")[0].split("=")[0].split("<")[0].strip() for line in declared[extra]}
        assert set(packages) <= names, (extra, packages, declared[extra])
    def bundled(name: str) -> set[str]:
        return set(declared[name][0].removeprefix("genzoo[").rstrip("]").split(","))

    assert bundled("all") == set(EXTRAS) - NOT_IN_ALL
    assert bundled("test") == {"all"} | NOT_IN_ALL  # the tests need every extra


def test_require_imports_or_names_the_extra(monkeypatch):
    assert require("json", "eval", "x").dumps([]) == "[]"
    _hide(monkeypatch, "matplotlib")
    with pytest.raises(MissingExtraError) as caught:
        require("matplotlib.figure", "report", "The report's plots")
    message = str(caught.value)
    assert message.startswith("The report's plots needs matplotlib") and "\n" not in message
    assert message.endswith('pip install "genzoo[report]"')
    with pytest.raises(ValueError, match="unknown extra"):
        require("json", "plots", "x")


def test_genzoo_eval_without_torchmetrics_names_the_eval_extra(monkeypatch, tmp_path):
    _hide(monkeypatch, "torchmetrics")
    user_error(invoke("eval", tmp_path / "last.pt", "-n", "20"), 'pip install "genzoo[eval]"',
               "genzoo eval needs torchmetrics")


def test_genzoo_report_without_matplotlib_names_the_report_extra(monkeypatch, tmp_path):
    _hide(monkeypatch, "matplotlib")
    user_error(invoke("report", tmp_path), 'pip install "genzoo[report]"')


@pytest.mark.parametrize(("flag", "package", "extra"), [("--tensorboard", "tensorboard", "tensorboard"),
                                                        ("--report", "matplotlib", "report")])
def test_training_options_that_need_an_extra_fail_before_the_run(monkeypatch, tmp_path, tiny_root,
                                                                 flag, package, extra):
    _hide(monkeypatch, package)
    monkeypatch.delitem(sys.modules, "torch.utils.tensorboard", raising=False)
    out = tmp_path / "run"
    user_error(invoke("train", "gan", "--data", "mnist", "--data-root", tiny_root, *FAST, *TINY_GAN,
                      "--epochs", "1", flag, "--out", out), f'pip install "genzoo[{extra}]"')
    assert not (out / "checkpoints").exists()


@pytest.mark.parametrize(("flag", "value", "package"), [("--mlflow", "http://127.0.0.1:9", "mlflow"),
                                                       ("--wandb", "genzoo-tests", "wandb")])
def test_tracker_options_without_their_package_fail_before_the_run(monkeypatch, tmp_path, tiny_root,
                                                                  flag, value, package):
    _hide(monkeypatch, package)
    out = tmp_path / "run"
    message = user_error(invoke("train", "gan", "--data", "mnist", "--data-root", tiny_root, *FAST,
                                *TINY_GAN, "--epochs", "1", flag, value, "--out", out),
                         f"{package}= ({flag}) needs {package}", f'pip install "genzoo[{package}]"')
    assert not (out / "checkpoints").exists(), message


def test_svhn_without_scipy_names_the_datasets_extra(monkeypatch, tmp_path):
    write_svhn(tmp_path, {"train": 4, "test": 2})
    _hide(monkeypatch, "scipy")
    user_error(invoke("train", "gan", "--data", "svhn", "--data-root", tmp_path, *FAST, *TINY_GAN,
                      "--epochs", "1", "--out", tmp_path / "run"), 'pip install "genzoo[datasets]"')
