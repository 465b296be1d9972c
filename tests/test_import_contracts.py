"""The import rules of ``.importlinter`` hold, checked by import-linter as ``lint-imports`` does.

The contracts: the shipped plugins import nothing of genzoo but :mod:`genzoo.plugin` (and the
top-level package), the core never imports a plugin package, and the core's layers. The linter
runs in a subprocess over this checkout's files (they come first on its ``PYTHONPATH``, before
any installed copy), without its cache, so that it never writes into the repository.
"""

from __future__ import annotations

import configparser
import io
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import genzoo
from genzoo.scaffold import write_plugin

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"
PLUGIN_CONTRACT = "importlinter:contract:plugins-use-the-plugin-api"
#: Where the shipped plugin packages live in the checkout (genzoo_gan, genzoo_vae under
#: plugins/; each plugin distribution's package in its own folder).
IMPORT_PATHS = [ROOT, ROOT / "plugins", ROOT / "plugins" / "genzoo-diffusion",
                ROOT / "plugins" / "genzoo-flow-matching", ROOT / "plugins" / "genzoo-flows",
                ROOT / "plugins" / "genzoo-few-step"]


def lint(config: Path, *paths: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports --config CONFIG --no-cache`` with ``paths`` and the checkout importable."""
    try:
        import importlinter  # noqa: F401
    except ImportError:
        pytest.fail("import-linter is not installed: pip install import-linter==2.16 "
                    "(pinned in .ci/requirements.txt)")
    path = [str(p) for p in (*paths, *IMPORT_PATHS)]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "COLUMNS": "200",
           "NO_COLOR": "1", "TERM": "dumb"}
    command = [sys.executable, "-c",
               "from importlinter.cli import lint_imports_command; lint_imports_command()",
               "--config", str(config), "--no-cache", "--no-logo"]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def read_config(path: Path = CONFIG) -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    assert parser.read(path, encoding="utf-8") == [str(path)], f"cannot read {path}"
    return parser


def lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def contract_for(package: str) -> str:
    """The plugin contract of ``.importlinter`` applied to one other package, as a config file."""
    real = read_config()
    config = configparser.ConfigParser()
    config["importlinter"] = {"root_packages": f"\ngenzoo\n{package}"}
    contract = dict(real[PLUGIN_CONTRACT])
    contract["source_modules"] = package
    config[PLUGIN_CONTRACT] = contract
    text = io.StringIO()
    config.write(text)
    return text.getvalue()


def test_the_import_contracts_hold() -> None:
    contracts = [s for s in read_config().sections() if s.startswith("importlinter:contract:")]
    assert len(contracts) == 3, contracts
    done = lint(CONFIG)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # Every contract was checked and kept (a config the linter could not read fails above, and a
    # contract it skipped would not be counted here).
    assert f"Contracts: {len(contracts)} kept, 0 broken." in output, output
    assert "The shipped plugins import only genzoo.plugin of genzoo KEPT" in output


def test_the_plugin_contract_names_every_module_of_the_core_but_genzoo_plugin() -> None:
    """A core module added later is forbidden to plugins too, unless it is added here on purpose."""
    contract = read_config()[PLUGIN_CONTRACT]
    forbidden = set(lines(contract["forbidden_modules"]))
    core = {f"genzoo.{info.name}" for info in pkgutil.iter_modules(genzoo.__path__)}
    assert "genzoo.plugin" in core and "genzoo.runner" in core
    assert forbidden == core - {"genzoo.plugin"}


def test_the_plugin_contract_covers_every_shipped_plugin_package() -> None:
    shipped = {p.parent.name for p in (ROOT / "plugins").glob("genzoo_*/__init__.py")}
    shipped |= {p.parent.name for p in (ROOT / "plugins").glob("genzoo-*/genzoo_*/__init__.py")}
    assert {"genzoo_gan", "genzoo_vae", "genzoo_diffusion", "genzoo_flow_matching",
            "genzoo_flows"} <= shipped
    config = read_config()
    assert set(lines(config[PLUGIN_CONTRACT]["source_modules"])) == shipped
    assert set(lines(config["importlinter:contract:core-never-imports-a-plugin"]
                     ["forbidden_modules"])) == shipped
    assert set(lines(config["importlinter"]["root_packages"])) == shipped | {"genzoo"}


def write_package(root: Path, name: str, source: str) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")


def test_a_plugin_that_imports_the_runner_breaks_the_contract(tmp_path: Path) -> None:
    write_package(tmp_path / "src", "rogue_plugin", """\
        from genzoo.plugin import hookimpl
        from genzoo.runner import fit
        """)
    config = tmp_path / "rogue.ini"
    config.write_text(contract_for("rogue_plugin"), encoding="utf-8")
    done = lint(config, tmp_path / "src", cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Contracts: 0 kept, 1 broken." in output, output
    assert "rogue_plugin is not allowed to import genzoo.runner" in output, output
    assert "rogue_plugin -> genzoo.runner (l.2)" in output, output


def test_a_plugin_that_imports_only_genzoo_plugin_keeps_the_contract(tmp_path: Path) -> None:
    """The same generated contract passes a plugin that goes through genzoo.plugin (which itself
    imports the runner): the failure above is the direct import, not the set-up."""
    write_package(tmp_path / "src", "polite_plugin", """\
        import genzoo
        from genzoo.plugin import GenerativeModel, ema_decay, hookimpl
        """)
    config = tmp_path / "polite.ini"
    config.write_text(contract_for("polite_plugin"), encoding="utf-8")
    done = lint(config, tmp_path / "src", cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Contracts: 1 kept, 0 broken." in output, output


def test_the_package_new_plugin_writes_keeps_the_plugin_contract(tmp_path: Path) -> None:
    write_plugin("contract-check", tmp_path / "pkg")
    config = tmp_path / "scaffold.ini"
    config.write_text(contract_for("genzoo_contract_check"), encoding="utf-8")
    done = lint(config, tmp_path / "pkg", cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Contracts: 1 kept, 0 broken." in output, output
