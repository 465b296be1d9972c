from pathlib import Path

import pytest

from genzoo.data import data_root


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENZOO_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)


def test_explicit_root_wins_over_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "env"))
    assert data_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_root(str(tmp_path / "explicit")) == tmp_path / "explicit"


def test_env_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"


def test_default_and_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert data_root() == Path.home() / ".cache" / "genzoo" / "data"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data_root() == tmp_path / "genzoo" / "data"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert data_root() == Path.home() / ".cache" / "genzoo" / "data"


def test_user_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_root("~/d") == tmp_path / "d"
    monkeypatch.setenv("GENZOO_DATA", "~/e")
    assert data_root() == tmp_path / "e"
