"""Data shipped in Debian packages (e.g. dataset-fashion-mnist): declare, locate, or fail clearly.

An experiment lists the packages in its module-level `DEBIAN_PACKAGES`; `make setup` installs them
when it runs as root (tools/debian_packages.py collects them) and otherwise prints the command.
At run time `require(package, path)` returns the path, or stops the run before anything is written
with the one command that installs the package.
"""

from __future__ import annotations

import pathlib

from experiments._lib.config import UsageError


def require(package: str, path: str | pathlib.Path) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.exists():
        raise UsageError(
            f"{path} not found: it ships in the Debian package {package!r}; install it with "
            f"`sudo apt-get install -y {package}` (or run `make setup` as root)"
        )
    return path
