"""Static files shipped inside installed Python packages, served under our own static paths.

Front-end libraries come from a registry (pinned in requirements.txt), never copied into the repo
or loaded from a CDN. ``VendorFinder`` exposes the few files we use from those packages and
nothing else, so ``collectstatic`` copies one file, not a package's whole data directory.
"""

from __future__ import annotations

import importlib.util
import posixpath
from pathlib import Path

from django.contrib.staticfiles import utils
from django.contrib.staticfiles.finders import BaseFinder, searched_locations
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

# static path → (installed package, file inside the package). The file name must match the
# static path's last segment: the storage serves the package's directory under the path's prefix.
VENDORED = {
    "vendor/plotly/plotly.min.js": ("plotly", "package_data/plotly.min.js"),
}


def package_file(package: str, name: str) -> Path | None:
    """Where an installed package keeps ``name``, without importing the package; None if not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / name


class VendorFinder(BaseFinder):
    """Finds the files listed in ``VENDORED`` inside their installed packages."""

    def __init__(self, *args, table: dict[str, tuple[str, str]] | None = None, **kwargs):
        self.table = VENDORED if table is None else table
        super().__init__(*args, **kwargs)

    def check(self, **kwargs) -> list[Error]:
        errors = []
        for static_path, (package, name) in self.table.items():
            source = package_file(package, name)
            if source is None or not source.is_file():
                errors.append(Error(f"{package} does not ship {name} (for {static_path}).", id="lodestar.E101"))
            elif posixpath.basename(static_path) != source.name:
                errors.append(Error(f"{static_path} must end with {source.name}.", id="lodestar.E102"))
        return errors

    def find(self, path: str, find_all: bool = False, **kwargs) -> str | list[str]:
        """The absolute path of a vendored file, or ``[]`` when ``path`` is not one (as Django's finders)."""
        source = self.source(path)
        if source is None:
            return []
        if str(source.parent) not in searched_locations:
            searched_locations.append(str(source.parent))
        return [str(source)] if find_all else str(source)

    def list(self, ignore_patterns):
        """Each vendored file with a storage rooted at its package directory, prefixed with its static folder."""
        for static_path in self.table:
            source = self.source(static_path)
            if source is None or utils.matches_patterns(static_path, ignore_patterns or []):
                continue
            storage = FileSystemStorage(location=source.parent)
            storage.prefix = posixpath.dirname(static_path)
            yield source.name, storage

    def source(self, static_path: str) -> Path | None:
        if static_path not in self.table:
            return None
        source = package_file(*self.table[static_path])
        return source if source is not None and source.is_file() else None
