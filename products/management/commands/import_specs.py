"""``manage.py import_specs PATH... --as USERNAME [--dry-run]``: import spec files or folders of them.

All files are one transaction: any error in any file and nothing is written; every error is
printed to stderr as ``file:line:column: path: message`` and the exit status is 2. ``--as``
is required: it names the user whose permissions the import runs with (an admin's username
for a hub-wide import), so a command line never bypasses the access policy.
"""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from products.specs.importer import import_documents
from products.specs.loader import SpecError, SpecErrors, load_file

SUFFIXES = (".yaml", ".yml")
SPEC_ERROR_STATUS = 2


class Command(BaseCommand):
    help = "Import product specs from YAML files or folders (atomic: all files or nothing)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="Spec files, or folders of .yaml/.yml files.")
        parser.add_argument("--as", dest="username", required=True, metavar="USERNAME",
                            help="The user whose permissions apply (required).")  # fmt: skip
        parser.add_argument("--dry-run", action="store_true", help="Print the change and write nothing.")

    def handle(self, *args, paths: list[str], username: str, dry_run: bool, **options) -> None:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"--as: no active user {username!r}.", returncode=SPEC_ERROR_STATUS)
        try:
            documents = load_all(files(paths))
            report = import_documents(documents, user=user, dry_run=dry_run)
        except SpecErrors as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            count = len(exc.errors)
            raise CommandError(f"{count} error(s); nothing was written.", returncode=SPEC_ERROR_STATUS) from None
        self.stdout.write(report.text(), ending="")


def files(paths: list[str]) -> list[Path]:
    found, missing = [], []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(each for each in path.iterdir() if each.suffix in SUFFIXES and each.is_file())
        elif path.is_file():
            found.append(path)
        else:
            missing.append(SpecError(name, 1, 1, "(document)", "no such file or folder"))
    if missing:
        raise SpecErrors(missing)
    if not found:
        raise SpecErrors([SpecError(paths[0], 1, 1, "(document)", "no .yaml or .yml files found")])
    return found


def load_all(paths: list[Path]) -> list:
    """Every document of every file, in the files' order; the errors of all files together.

    Parsing and validating is CPU work with no database, so many files are read by one process
    per CPU (forked: the workers only read files; they never touch the parent's connections).
    """
    if len(paths) >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(os.cpu_count() or 1, 8), mp_context=context) as pool:
            results = list(pool.map(load_one, paths, chunksize=16))
    else:
        results = [load_one(path) for path in paths]
    documents = [document for found, _ in results for document in found]
    errors = [error for _, problems in results for error in problems]
    if errors:
        raise SpecErrors(errors)
    return documents


PARALLEL_FROM = 64  # files; below this, starting the workers costs more than it saves


def load_one(path: Path) -> tuple[list, list]:
    """(documents, errors) of one file."""
    try:
        return load_file(path), []
    except SpecErrors as exc:
        return [], exc.errors
    except OSError as exc:
        return [], [SpecError(str(path), 1, 1, "(document)", f"cannot read: {exc.strerror}")]
