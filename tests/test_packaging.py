"""The wheel carries everything brandpulse needs at run time.

``pip install .`` (not only ``pip install -e .``) must ship the templates,
configurations and demo data; pyproject.toml lists packages explicitly, so
a new package directory that is not listed would silently be left out.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from brandpulse import resources
from brandpulse.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def _package_dir(package: str) -> Path:
    mapped = SETUPTOOLS.get("package-dir", {})
    return ROOT / mapped[package] if package in mapped else ROOT / package.replace(".", "/")


def test_every_python_package_in_the_tree_is_listed():
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("brandpulse", "listener", "rules", "outreach")
        for p in (ROOT / top).rglob("__init__.py")
    }
    listed = set(SETUPTOOLS["packages"])
    assert on_disk - listed == set(), "packages missing from [tool.setuptools] packages"
    for package in listed:
        assert _package_dir(package).is_dir(), f"{package} is listed but {_package_dir(package)} does not exist"


@pytest.mark.parametrize("name", ["templates", "config", "demo"])
def test_every_bundled_file_matches_a_package_data_pattern(name):
    package = f"brandpulse.bundled.{name}"
    assert SETUPTOOLS["package-dir"][package] == name
    patterns = SETUPTOOLS["package-data"][package]
    files = [p.name for p in (ROOT / name).iterdir() if p.is_file()]
    assert files, f"{name}/ is empty"
    unshipped = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert unshipped == []


def test_migrations_are_shipped():
    patterns = SETUPTOOLS["package-data"]["brandpulse"]
    for path in (ROOT / "brandpulse" / "migrations").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(ROOT / "brandpulse").as_posix()
            assert any(fnmatch.fnmatch(rel, pat) for pat in patterns), rel


def test_a_checkout_uses_its_own_directories():
    assert resources.is_checkout()
    assert resources.resource_dir("templates") == ROOT / "templates"
    assert resources.demo_config_path() == ROOT / "config" / "demo.yaml"


def test_the_bundled_demo_config_keeps_its_data_in_the_working_directory(tmp_path, monkeypatch):
    # Lay out an installed copy: <site>/brandpulse/bundled/{config,templates,demo}.
    bundled = tmp_path / "site" / "brandpulse" / "bundled"
    for name in ("config", "templates", "demo"):
        (bundled / name).mkdir(parents=True)
        for f in (ROOT / name).iterdir():
            if f.is_file():
                (bundled / name / f.name).write_bytes(f.read_bytes())
    monkeypatch.setattr(resources, "BUNDLED_ROOT", bundled.resolve())
    work = tmp_path / "work"
    work.mkdir()

    settings = resources.relocate_bundled_data(load_settings(bundled / "config" / "demo.yaml"), cwd=work)

    assert settings.data_path == (work / "brandpulse-data").resolve()
    assert settings.effective_database_url() == f"sqlite:///{(work / 'brandpulse-data' / 'demo.db').resolve()}"
    assert (work / "brandpulse-data").is_dir()
    # Templates and the replay file still come from the installed copy.
    assert settings.templates_path == (bundled / "templates").resolve()


def test_a_users_own_config_is_left_alone(tmp_path):
    cfg = tmp_path / "brandpulse.yaml"
    cfg.write_text("brands:\n  - id: acme\n    name: Acme\n", encoding="utf-8")
    settings = load_settings(cfg)
    assert resources.relocate_bundled_data(settings, cwd=tmp_path / "elsewhere") is settings
