"""The committed expected files are code we would ship: ruff-clean and mypy --strict clean."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.plugin.harness import CASES, OUT, ROOT, golden_cases, venv_bin


def _tool(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a venv tool; the project's pyproject.toml applies when ``cwd`` is the root."""
    return subprocess.run(
        [str(venv_bin() / name), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _expected_dirs() -> list[str]:
    return [str((CASES / case / OUT).relative_to(ROOT)) for case in golden_cases()]


def test_expected_code_is_ruff_formatted() -> None:
    done = _tool("ruff", "format", "--check", "--no-cache", "--diff", *_expected_dirs(), cwd=ROOT)

    assert done.returncode == 0, done.stdout + done.stderr


def test_expected_code_passes_ruff_check() -> None:
    done = _tool(
        "ruff", "check", "--no-cache", "--output-format=concise", *_expected_dirs(), cwd=ROOT
    )

    assert done.returncode == 0, done.stdout + done.stderr


def test_expected_code_passes_mypy_strict(tmp_path: Path) -> None:
    # Each expected/ is a package with relative imports: check each under its case's name.
    packages = golden_cases()
    for case in packages:
        shutil.copytree(CASES / case / OUT, tmp_path / case)

    done = _tool(
        "mypy",
        "--strict",
        "--python-version=3.11",
        "--no-incremental",
        f"--cache-dir={tmp_path / '.mypy_cache'}",
        *(f"--package={case}" for case in packages),
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stdout + done.stderr
