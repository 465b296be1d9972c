"""The documentation builds with warnings as errors, its code runs, and it documents the API.

The HTML and doctest builds run once per session, side by side, in subprocesses (a clean
interpreter, as ``make docs`` runs them); the tests below read their results and the HTML
build's ``objects.inv``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import shlex
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

import genzoo
import genzoo.hookspecs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: Packages whose modules' ``__all__`` names must all be documented.
DOCUMENTED_PACKAGES = ("genzoo", "genzoo_gan", "genzoo_vae", "genzoo_flows", "genzoo_diffusion",
                       "genzoo_flow_matching", "genzoo_few_step")


@dataclass
class Build:
    builder: str
    returncode: int
    output: str
    out: Path


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> dict[str, Build]:
    """Run ``sphinx -W --keep-going`` with the html builder, then the doctest builder on the
    same parsed documents (one doctree folder: the second build reads no source again)."""
    base = tmp_path_factory.mktemp("docs")
    env = {**os.environ, "GENZOO_DATA": str(mnist_root), "OMP_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    done = {}
    for builder in ("html", "doctest"):
        command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder,
                   "-d", str(base / "doctrees"), str(DOCS), str(base / builder)]
        run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env, cwd=ROOT, timeout=900)
        done[builder] = Build(builder, run.returncode, run.stdout, base / builder)
    return done


@pytest.fixture(scope="session")
def inventory(builds: dict[str, Build]) -> dict[str, str]:
    """The HTML build's ``objects.inv``: documented name → ``domain:role``."""
    raw = (builds["html"].out / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # four header lines, then zlib-compressed "name domain:role prio uri dispname"
        header_end = raw.index(b"\n", header_end) + 1
    entries = {}
    for line in zlib.decompress(raw[header_end:]).decode().splitlines():
        match = re.match(r"(.+?)\s+(\S+:\S+)\s+-?\d+\s", line)
        if match:
            entries[match.group(1)] = match.group(2)
    return entries


def test_html_build_passes_with_warnings_as_errors(builds: dict[str, Build]) -> None:
    build = builds["html"]
    assert build.returncode == 0, f"sphinx -W -b html failed:\n{build.output[-6000:]}"
    assert (build.out / "index.html").is_file()
    assert (build.out / "_images" / "gan_samples_final.png").is_file()  # the tutorial's grids
    # Furo renders a page's own table of contents as a red error box unless told it is wanted
    shown_as_errors = [page.relative_to(build.out).as_posix() for page in build.out.rglob("*.html")
                       if "Adding a table of contents in Furo-based" in page.read_text(encoding="utf-8")]
    assert not shown_as_errors, f"a contents directive shows as an error box on {shown_as_errors}"


def test_doctests_pass(builds: dict[str, Build]) -> None:
    build = builds["doctest"]
    assert build.returncode == 0, f"sphinx -b doctest failed:\n{build.output[-6000:]}"
    summary = (build.out / "output.txt").read_text()
    assert re.search(r"\b0 failures in tests", summary), summary[-3000:]
    tests = int(re.search(r"(\d+) tests", summary.split("Doctest summary")[1]).group(1))
    assert tests >= 60, f"only {tests} doctests ran:\n{summary[-3000:]}"  # nothing skipped wholesale


def test_every_public_name_of_genzoo_is_documented(inventory: dict[str, str]) -> None:
    missing = [name for name in genzoo.__all__ if f"genzoo.{name}" not in inventory]
    assert not missing, f"not documented in docs/api/genzoo.rst: {missing}"


def test_every_hookspec_is_documented(inventory: dict[str, str]) -> None:
    hooks = [name for name, obj in vars(genzoo.hookspecs).items()
             if inspect.isfunction(obj) and hasattr(obj, "genzoo_spec")]
    assert "genzoo_register_models" in hooks and len(hooks) >= 5
    missing = [name for name in hooks
               if inventory.get(f"genzoo.hookspecs.{name}") != "py:function"]
    assert not missing, f"hooks not documented in docs/api/genzoo.hookspecs.rst: {missing}"


def _public_modules() -> list[str]:
    names = []
    for package_name in DOCUMENTED_PACKAGES:
        package = importlib.import_module(package_name)
        names.append(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                names.append(info.name)
    return names


def _documented_objects(inventory: dict[str, str]) -> set[int]:
    """The ids of the classes and functions the inventory documents, under whatever name."""
    found = set()
    for name, role in inventory.items():
        if not role.startswith("py:") or role == "py:module":
            continue
        parts = name.split(".")
        for split in range(len(parts) - 1, 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:split]))
            except ImportError:
                continue
            try:
                for attr in parts[split:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                break
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found.add(id(obj))
            break
    return found


def test_every_public_name_of_every_module_is_documented(inventory: dict[str, str]) -> None:
    """Each name in a module's ``__all__`` is documented: under the module, under a parent
    package that re-exports it (``genzoo.runner.loop.fit`` as ``genzoo.runner.fit``,
    ``genzoo.runner.options.RunOptions`` as ``genzoo.RunOptions``), or, for a class or a
    function, as the same object under another name."""
    objects = _documented_objects(inventory)
    missing = []
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            parts = module_name.split(".")
            places = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
            if any(f"{place}.{name}" in inventory for place in places):
                continue
            obj = getattr(module, name, None)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and id(obj) in objects:
                continue
            missing.append(f"{module_name}.{name}")
    assert not missing, (
        "public names missing from the API reference (add them to a page under docs/api/): "
        f"{missing}")


# -- the command line -----------------------------------------------------------------------

def _commands() -> dict[str, click.Command]:
    from genzoo.cli import main

    ctx = click.Context(main)
    commands: dict[str, click.Command] = {"genzoo": main}
    for name in main.list_commands(ctx):
        commands[f"genzoo {name}"] = main.get_command(ctx, name)
    return commands


def _option_names(command: click.Command) -> set[str]:
    names = set()
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names | {"-h", "--help"}


def _documented_options() -> dict[str, set[str]]:
    """``.. program::`` → the names of its ``.. option::`` entries, from docs/guide/cli.rst."""
    documented: dict[str, set[str]] = {}
    program = None
    for line in (DOCS / "guide" / "cli.rst").read_text(encoding="utf-8").splitlines():
        if line.startswith(".. program:: "):
            program = line.split("::", 1)[1].strip()
            documented.setdefault(program, set())
        elif line.startswith(".. option:: "):
            assert program is not None, f"an option before any program: {line}"
            for variant in re.split(r",\s*(?=-)", line.split("::", 1)[1].strip()):
                documented[program].add(variant.split()[0].split("=")[0])
    return documented


def test_every_command_and_option_is_documented() -> None:
    documented = _documented_options()
    commands = _commands()
    assert set(documented) == set(commands), (
        f"commands without a section in docs/guide/cli.rst: {set(commands) - set(documented)}; "
        f"documented commands that do not exist: {set(documented) - set(commands)}")
    for program, command in commands.items():
        actual = _option_names(command) - ({"-h", "--help"} if program != "genzoo" else set())
        assert documented[program] - _option_names(command) == set(), (
            f"{program}: documented options that do not exist")
        assert actual - documented[program] == set(), f"{program}: options not documented"


def _example_command_lines() -> list[tuple[str, str]]:
    """Every ``genzoo ...`` command line shown in the docs and in README.md."""
    found = []
    sources = [p for p in DOCS.rglob("*.rst") if "_build" not in p.parts] + [ROOT / "README.md"]
    for path in sources:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text.startswith("$ "):
                text = text[2:]
            elif path.suffix != ".md" or not text.startswith("genzoo "):
                continue
            try:
                tokens = shlex.split(text, comments=True)
            except ValueError:
                continue
            if "genzoo" in tokens:
                found.append((f"{path.relative_to(ROOT)}: {line.strip()}", text))
    return found


def _check_command_line(text: str, commands: dict[str, click.Command]) -> None:
    tokens = shlex.split(text, comments=True)
    tokens = tokens[tokens.index("genzoo") + 1:]
    main = commands["genzoo"]
    command, program = main, "genzoo"
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token.startswith("-") and token != "-":
            name, _, inline = token.partition("=")
            assert name in _option_names(command), f"{program} has no option {name}"
            option = next((p for p in command.params if name in p.opts + p.secondary_opts), None)
            takes_value = option is not None and not option.is_flag and not option.count
            if takes_value and not inline and index < len(tokens) and not tokens[index].startswith("-"):
                value = tokens[index]
                index += 1
                if isinstance(option.type, click.Choice):
                    assert value in option.type.choices, f"{program} {name} {value}: not a choice"
        elif command is main:
            program = f"genzoo {token}"
            assert program in commands, f"no command {program}"
            command = commands[program]


def test_documented_command_lines_use_real_commands_and_options() -> None:
    commands = _commands()
    lines = _example_command_lines()
    assert len(lines) > 30
    for where, text in lines:
        try:
            _check_command_line(text, commands)
        except AssertionError as err:
            raise AssertionError(f"{where}: {err}") from None


def _core_modules() -> set[str]:
    """The core's top-level modules and packages, and the runner's modules, as the
    architecture page lists them."""
    names = {f"genzoo.{m.name}" for m in pkgutil.iter_modules(genzoo.__path__)
             if m.name not in ("__main__", "_words", "_version", "runner")}
    runner = importlib.import_module("genzoo.runner")
    names |= {f"genzoo.runner.{m.name}" for m in pkgutil.iter_modules(runner.__path__)}
    return names


def test_the_architecture_page_lists_every_module_and_only_real_ones() -> None:
    page = (DOCS / "guide" / "architecture.rst").read_text()
    listed = set(re.findall(r"^   \* - ``(genzoo[\w.]*)``$", page, flags=re.M))
    assert listed, "the architecture page's module table was not found"
    modules = _core_modules()
    assert not modules - listed, f"modules missing from docs/guide/architecture.rst: {sorted(modules - listed)}"
    assert not listed - modules, f"docs/guide/architecture.rst names modules that do not exist: {sorted(listed - modules)}"


def test_the_architecture_page_lists_the_core_layers_in_their_import_order() -> None:
    """The table goes from the top layer down, as .importlinter's layers contract does: no
    module is listed above one of a higher layer."""
    page = (DOCS / "guide" / "architecture.rst").read_text()
    order = [name for name in re.findall(r"^   \* - ``(genzoo[\w.]*)``$", page, flags=re.M)
             if name.count(".") == 1]
    contract = (ROOT / ".importlinter").read_text().split("[importlinter:contract:core-layers]")[1]
    layers = [[part.strip() for part in re.split(r"[|:]", line)]
              for line in contract.split("layers =")[1].split("exhaustive")[0].strip().splitlines()]
    rank = {f"genzoo.{name}": i for i, layer in enumerate(layers) for name in layer}
    ranks = [rank[name] for name in order if name in rank]
    assert len(ranks) > 20 and ranks == sorted(ranks), [name for name in order if name in rank]
