"""Where brandpulse's own files are: templates, configurations, demo data.

In a source checkout (``pip install -e .``) they are the project's top-level
``templates/``, ``config/`` and ``demo/`` directories. A built wheel
(``pip install .``) carries copies of the same directories in
``brandpulse/bundled/`` (see ``[tool.setuptools.package-dir]`` in
pyproject.toml), with the same relative layout, so the paths inside
``config/demo.yaml`` (``../templates``, ``../demo/mentions.jsonl``) hold in
both.

An installed copy lives in site-packages, which is no place for a database:
when the bundled demo configuration is used from there, its data goes to
``./brandpulse-data`` in the working directory instead (see
:func:`relocate_bundled_data`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from brandpulse.config import Settings

ResourceName = Literal["templates", "config", "demo"]

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_ROOT = PACKAGE_DIR.parent
BUNDLED_ROOT = PACKAGE_DIR / "bundled"
INSTALLED_DATA_DIR = Path("brandpulse-data")


def is_checkout() -> bool:
    """True when brandpulse runs from its source tree (editable install or tests)."""
    return (CHECKOUT_ROOT / "pyproject.toml").is_file() and (CHECKOUT_ROOT / "templates").is_dir()


def resource_root() -> Path:
    return CHECKOUT_ROOT if is_checkout() else BUNDLED_ROOT


def resource_dir(name: ResourceName) -> Path:
    """The directory of brandpulse's own ``templates``, ``config`` or ``demo`` files."""
    return resource_root() / name


def demo_config_path() -> Path:
    return resource_dir("config") / "demo.yaml"


def is_bundled_copy(path: Path | str) -> bool:
    """True for a file inside the installed package's bundled copies."""
    return Path(path).resolve().is_relative_to(BUNDLED_ROOT)


def relocate_bundled_data(settings: Settings, *, cwd: Path | None = None) -> Settings:
    """A configuration loaded from the installed package keeps its data
    (database, trained models) in ``./brandpulse-data``, not in site-packages.
    Any other configuration is returned unchanged."""
    if settings.source_path is None or not is_bundled_copy(settings.source_path):
        return settings
    data = ((cwd or Path.cwd()) / INSTALLED_DATA_DIR).resolve()
    update: dict = {"data_dir": data}
    url = settings.database_url
    if url and url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        name = Path(url.removeprefix("sqlite:///")).name
        update["database_url"] = f"sqlite:///{data / name}"
    relocated = settings.model_copy(update=update)
    data.mkdir(parents=True, exist_ok=True)
    return relocated
