"""Lay out the package as it installs (pyproject's package-dir mapping) as symlinks under
build/typecheck, so mypy sees `truenorth.*` without importing through the editable finder."""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

root = Path(__file__).resolve().parent.parent
mapping: dict[str, str] = tomllib.loads((root / "pyproject.toml").read_text())["tool"][
    "setuptools"
]["package-dir"]
out = root / "build" / "typecheck"
shutil.rmtree(out, ignore_errors=True)
for package, folder in sorted(mapping.items(), key=lambda item: item[0].count(".")):
    target = out.joinpath(*package.split("."))
    target.mkdir(parents=True, exist_ok=True)
    for child in (root / folder).iterdir():
        if child.name == "__pycache__" or (target / child.name).exists():
            continue
        (target / child.name).symlink_to(child)
sys.stdout.write(str(out / "truenorth") + "\n")
