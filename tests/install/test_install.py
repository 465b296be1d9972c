"""genzoo installed as a user installs it, not editable and not from this checkout.

The sdists and wheels of genzoo and of every distribution under ``plugins/`` are built with
``python -m build`` (each wheel from its sdist, so the sdist must be whole too) and checked with
``twine check --strict``. The wheels go into fresh environments that hold only torch and
torchvision (see :mod:`tests.install.environment`), pip resolving the declared dependencies
from the package index: once genzoo alone with its core dependencies (no plugin distribution,
which could bring a package genzoo forgot), once ``genzoo[all]`` with every plugin distribution. From a folder
outside the checkout, every module of genzoo and the plugins must then import, and the
commands must work: ``list``, ``train``, ``sample``, ``info``, ``export``, ``eval``, ``report``,
and a named colour set read from generated files. With the core alone, each command that needs an extra
must say which one, in one line.

These tests fail when a subpackage is left out of the wheel, when a module genzoo imports is
not a declared dependency (or behind the extra whose absence the command reports), and when a
command ends in a traceback. They need the package index (pip resolves from it); they take a
few minutes, on one worker (``xdist_group``), beside the rest of the suite.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli import write_idx_root
from tests.data.writers import write_cifar, write_svhn
from tests.install.environment import clean_env, fresh_environment

pytestmark = [pytest.mark.install, pytest.mark.slow, pytest.mark.xdist_group("install")]

REPO = Path(__file__).resolve().parents[2]
#: The distributions a user installs: genzoo, then each plugin folder.
SOURCES = {"genzoo": REPO, **{p.name: p for p in sorted((REPO / "plugins").glob("genzoo-*"))
                              if (p / "pyproject.toml").is_file()}}
#: Where the fresh environments live: beside the test environment, so that torch's files can be
#: hard-linked into them.
ENVIRONMENTS = Path(sys.prefix).parent / "install-test"
#: Tiny models: every training run here takes seconds.
TINY_GAN = ("--set", "latent_dim=8", "--set", "generator_widths=16,16,16,16",
            "--set", "discriminator_widths=16,16")
FAST = ("--device", "cpu", "--batch-size", "16", "--no-progress", "--epochs", "1", "--seed", "0")


@dataclass
class Installed:
    """A fresh environment with genzoo installed from wheels, and a work folder outside the
    checkout to run it in."""

    bin: Path
    work: Path
    data: Path

    def run(self, *args: str | Path, program: str = "genzoo") -> subprocess.CompletedProcess[str]:
        """Run ``program ARGS`` (a command of the environment) in the work folder."""
        return subprocess.run([str(self.bin / program), *map(str, args)], cwd=self.work,
                              env=clean_env(GENZOO_DATA=str(self.data),
                                            XDG_CACHE_HOME=str(self.work / "cache")),
                              capture_output=True, text=True, timeout=600)

    def ok(self, *args: str | Path, program: str = "genzoo") -> str:
        """Run it and expect success; return its standard output."""
        done = self.run(*args, program=program)
        assert done.returncode == 0, _explain(done)
        assert "Traceback" not in done.stdout + done.stderr, _explain(done)
        return done.stdout

    def user_error(self, *args: str | Path) -> str:
        """Run it and expect one line ``Error: ...`` on stderr, exit status 2, no traceback."""
        done = self.run(*args)
        assert done.returncode == 2, _explain(done)
        assert "Traceback" not in done.stderr, _explain(done)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), _explain(done)
        return lines[0]


def _explain(done: subprocess.CompletedProcess[str]) -> str:
    return (f"{' '.join(map(str, done.args))}\nexit status {done.returncode}\n--- stdout\n"
            f"{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}")


def _pip(bin_dir: Path, *args: str) -> None:
    done = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", *args],
                          env=clean_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, _explain(done)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdists and wheels of every distribution, built as a release would build them."""
    out = tmp_path_factory.mktemp("dist")
    for name, source in SOURCES.items():
        done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
                               str(source)], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{name}:\n{_explain(done)}"
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``GENZOO_DATA`` for the installed commands: tiny MNIST, CIFAR-10 and SVHN files in their
    real formats."""
    root = tmp_path_factory.mktemp("install-data")
    write_idx_root(root, "MNIST", train=256, test=64)
    write_cifar(root, per_batch=8)
    write_svhn(root, {"train": 32, "test": 16})
    return root


def _installed(dists: Path, data: Path, name: str, genzoo: str, tmp: Path, *,
               plugins: bool) -> Installed:
    ENVIRONMENTS.mkdir(parents=True, exist_ok=True)
    for old in ENVIRONMENTS.glob(f"{name}-*"):  # left by a run that was killed
        if time.time() - old.stat().st_mtime > 3600:
            shutil.rmtree(old, ignore_errors=True)
    bin_dir = fresh_environment(Path(tempfile.mkdtemp(prefix=f"{name}-", dir=ENVIRONMENTS)))
    wheels = {w.name.split("-")[0]: w for w in dists.glob("*.whl")}
    others = [str(w) for n, w in sorted(wheels.items()) if n != "genzoo"] if plugins else []
    _pip(bin_dir, "--find-links", str(dists), genzoo, *others)
    work = tmp / name
    work.mkdir()
    return Installed(bin_dir, work, data)


@pytest.fixture(scope="module")
def core(dists: Path, data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """genzoo alone, with its declared dependencies and no extras (no plugin distribution either:
    one could bring a package genzoo forgot to declare)."""
    env = _installed(dists, data, "core", "genzoo", tmp_path_factory.mktemp("core-work"),
                     plugins=False)
    yield env
    shutil.rmtree(env.bin.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def full(dists: Path, data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """``genzoo[all]`` (every extra) and every plugin distribution."""
    env = _installed(dists, data, "full", "genzoo[all]", tmp_path_factory.mktemp("full-work"),
                     plugins=True)
    yield env
    shutil.rmtree(env.bin.parent, ignore_errors=True)


def test_sdists_and_wheels_build_and_pass_twine_check(dists):
    built = sorted(p.name for p in dists.iterdir())
    for name in SOURCES:
        stem = name.replace("-", "_")
        assert any(b.startswith(stem + "-") and b.endswith(".whl") for b in built), built
        assert any(b.startswith(stem + "-") and b.endswith(".tar.gz") for b in built), built
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict",
                           *map(str, sorted(dists.iterdir()))], capture_output=True, text=True)
    assert done.returncode == 0, _explain(done)


#: Imports every module of genzoo and the shipped plugins from the installed files, and prints
#: where each came from (``__main__`` modules are found, not run).
_IMPORT_ALL = """
import importlib, importlib.util, json, pkgutil, sys
found = {}
for top in sys.argv[1:]:
    package = importlib.import_module(top)
    found[top] = package.__file__
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        if info.name.endswith(".__main__"):
            found[info.name] = importlib.util.find_spec(info.name).origin
        else:
            found[info.name] = importlib.import_module(info.name).__file__
print(json.dumps(found))
"""


def _source_modules(plugins: bool) -> dict[str, Path]:
    """Every module of the checkout's packages (genzoo's alone, or the plugin distributions'
    too): what the wheels must hold."""
    roots = {"genzoo": REPO / "genzoo", "genzoo_gan": REPO / "plugins" / "genzoo_gan",
             "genzoo_vae": REPO / "plugins" / "genzoo_vae"}
    if plugins:
        roots |= {p.name: p for p in (REPO / "plugins").glob("genzoo-*/genzoo_*") if p.is_dir()}
    modules = {}
    for top, folder in roots.items():
        for file in folder.rglob("*.py"):
            parts = file.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((top, *parts))] = file
    return modules


def _imports_every_module(env: Installed, plugins: bool) -> None:
    expected = _source_modules(plugins)
    tops = sorted({name.split(".")[0] for name in expected})
    found = json.loads(env.ok("-c", _IMPORT_ALL, *tops, program="python"))
    assert sorted(set(expected) - set(found)) == [], "modules not installed"
    site = env.bin.parent.resolve()
    outside = {m: f for m, f in found.items() if not Path(f).resolve().is_relative_to(site)}
    assert outside == {}, "imported from outside the fresh environment"


def test_with_the_core_alone_every_module_imports(core):
    _imports_every_module(core, plugins=False)


def test_with_the_core_alone_list_train_sample_and_info_work(core):
    listed = core.ok("list")
    for model in ("gan", "vae", "dcgan", "conv-vae"):
        assert f"\n{model} " in listed, listed
    core.ok("train", "gan", "--data", "mnist", *FAST, *TINY_GAN, "--out", "runs/gan")
    checkpoint = core.work / "runs" / "gan" / "checkpoints" / "last.pt"
    assert checkpoint.is_file()
    core.ok("sample", checkpoint, "-n", "8", "-o", "gan.png")
    assert (core.work / "gan.png").stat().st_size > 0
    assert json.loads(core.ok("info", checkpoint, "--json"))["model"] == "gan"
    core.ok("export", "runs/gan", "gan-folder")  # safetensors is a core dependency
    core.ok("sample", "gan-folder", "-n", "8", "-o", "folder.png")
    assert (core.work / "folder.png").read_bytes() == (core.work / "gan.png").read_bytes()
    # the weights the wheel ships, from its own files
    listed = json.loads(core.ok("list", "--pretrained", "--json"))["pretrained"]
    assert {e["name"] for e in listed} == {"pretrained:mnist-gan", "pretrained:mnist-dcgan",
                                           "pretrained:mnist-vae"}
    site = core.bin.parent.resolve()
    assert all(Path(e["folder"]).resolve().is_relative_to(site) and e["fid"] for e in listed)
    core.ok("sample", "pretrained:mnist-vae", "--label", "3", "-n", "8", "-o", "threes.png")
    assert (core.work / "threes.png").stat().st_size > 0


def test_with_the_core_alone_each_command_that_needs_an_extra_names_it(core):
    run = core.work / "runs" / "needs"
    assert 'pip install "genzoo[eval]"' in core.user_error("eval", run / "missing.pt", "-n", "20")
    core.work.joinpath("runs", "empty").mkdir(parents=True, exist_ok=True)
    assert 'pip install "genzoo[report]"' in core.user_error("report", core.work / "runs" / "empty")
    assert 'pip install "genzoo[tensorboard]"' in core.user_error(
        "train", "gan", "--data", "mnist", *FAST, *TINY_GAN, "--tensorboard", "--out", run / "tb")
    assert 'pip install "genzoo[report]"' in core.user_error(
        "train", "gan", "--data", "mnist", *FAST, *TINY_GAN, "--report", "--out", run / "report")
    assert 'pip install "genzoo[datasets]"' in core.user_error(
        "train", "gan", "--data", "svhn", *FAST, *TINY_GAN, "--out", run / "svhn")
    assert 'pip install "genzoo[hub]"' in core.user_error("sample", "someone/gan-mnist", "-o", "x.png")
    assert 'pip install "genzoo[hub]"' in core.user_error("push", run / "folder", "someone/gan-mnist")


def test_with_every_extra_and_plugin_every_module_imports(full):
    _imports_every_module(full, plugins=True)
    listed = full.ok("list")
    for model in ("gan", "vae", "dcgan", "conv-vae", "ddpm", "flow-matching", "glow", "realnvp",
                  "distilled-flow", "meanflow"):
        assert f"\n{model} " in listed, listed
    shipped = json.loads(full.ok("list", "--pretrained", "--json"))["pretrained"]
    assert len(shipped) == 7 and all(e["fid"] for e in shipped)
    loaded = full.ok("-c", "import sys, genzoo\nfor name in sys.argv[1:]:\n"
                     "    print(genzoo.from_pretrained(name).sample(2, seed=0).shape[0])",
                     *(e["name"] for e in shipped), program="python")
    assert loaded.split() == ["2"] * 7


def test_with_every_extra_train_eval_report_and_named_colour_sets_work(full):
    full.ok("train", "gan", "--data", "mnist", *FAST, *TINY_GAN, "--out", "runs/gan", "--tensorboard")
    assert any((full.work / "runs" / "gan" / "tensorboard").iterdir())
    checkpoint = full.work / "runs" / "gan" / "checkpoints" / "last.pt"
    printed = full.ok("eval", checkpoint, "-n", "40", "--bootstrap", "20", "--json", "eval.json")
    assert "FID" in printed and json.loads((full.work / "eval.json").read_text())["scores"]
    full.ok("report", "runs/gan", "-o", "report.html")
    assert "<html" in (full.work / "report.html").read_text().lower()
    for name in ("cifar10", "svhn"):
        full.ok("train", "gan", "--data", name, *FAST, *TINY_GAN, "--out", f"runs/{name}")
        info = json.loads(full.ok("info", f"runs/{name}/checkpoints/last.pt", "--json"))
        assert info["config"]["image_shape"] == [3, 32, 32], info
