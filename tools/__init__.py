"""Developer tooling: the embedded local PostgreSQL and the generated-code check."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def venv_tool(name: str) -> str:
    """Path of a console script installed beside this interpreter (sqlc, dbmate, ruff...)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed: run `make install`")
    return found
