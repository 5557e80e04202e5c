"""Run the real sqlc binary with the plugin on one case folder, in a scratch copy of it.

A case is a folder of ``cases/``: ``sqlc.yaml`` (its plugin ``cmd`` is
``codegen/sqlc-gen-asyncpg`` and its codegen ``out`` is ``expected``), ``schema.sql``,
the queries, and then either ``expected/`` (the exact files the plugin writes) or
``expected_error.txt`` (text that sqlc's error output must contain). A case with
``expected/`` may add ``expected_warnings.txt``: exactly what the plugin writes to
stderr (sqlc shows a plugin's stderr only when it fails, so the harness keeps a copy).
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

PLUGIN_TESTS = Path(__file__).resolve().parent
CASES = PLUGIN_TESTS / "cases"
ROOT = PLUGIN_TESTS.parent.parent
CODEGEN = ROOT / "codegen"

OUT = "expected"
ERROR_FILE = "expected_error.txt"
WARNINGS_FILE = "expected_warnings.txt"
# What a case folder holds besides its inputs: never copied into the scratch directory.
_RESULTS = (OUT, ERROR_FILE, WARNINGS_FILE, "__pycache__")

# sqlc shows a plugin's stderr only when the plugin fails. The plugin's executable starts
# with `#!/usr/bin/env python3`, so a `python3` placed first on PATH can keep a copy of it.
_PYTHON_SHIM = """\
#!/bin/sh
"{python}" "$@" 2>"{log}"
status=$?
cat "{log}" >&2
exit $status
"""


@dataclass(frozen=True, slots=True)
class Run:
    """What one ``sqlc generate`` did: exit code, stderr, the plugin's stderr, files written."""

    returncode: int
    stderr: str
    plugin_stderr: str
    files: dict[str, bytes]


def venv_bin() -> Path:
    """The directory of the running interpreter (the venv's ``bin``), not resolved."""
    return Path(sys.executable).parent


def sqlc_binary() -> str:
    """The pinned sqlc next to the interpreter, else the first ``sqlc`` on PATH."""
    pinned = venv_bin() / "sqlc"
    if pinned.is_file():
        return str(pinned)
    found = shutil.which("sqlc")
    if found is None:
        raise RuntimeError("sqlc not found: install the dev dependencies (make install)")
    return found


def case_names() -> list[str]:
    return sorted(path.name for path in CASES.iterdir() if (path / "sqlc.yaml").is_file())


def is_error_case(name: str) -> bool:
    return (CASES / name / ERROR_FILE).is_file()


def golden_cases() -> list[str]:
    return [name for name in case_names() if not is_error_case(name)]


def error_cases() -> list[str]:
    return [name for name in case_names() if is_error_case(name)]


def read_tree(root: Path) -> dict[str, bytes]:
    """Relative POSIX path -> contents of every file under ``root`` (none if it is missing)."""
    if not root.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def run_sqlc(case: str, scratch: Path) -> Run:
    """Copy ``case`` into ``scratch``, link the plugin as ``codegen``, run ``sqlc generate``."""
    work = scratch / case
    shutil.copytree(CASES / case, work, ignore=shutil.ignore_patterns(*_RESULTS))
    (work / "codegen").symlink_to(CODEGEN, target_is_directory=True)
    shim = scratch / "python-shim"
    shim.mkdir()
    log = scratch / "plugin-stderr.txt"
    (shim / "python3").write_text(_PYTHON_SHIM.format(python=sys.executable, log=log))
    (shim / "python3").chmod(0o755)
    path = os.pathsep.join([str(shim), str(venv_bin()), os.environ.get("PATH", "")])
    done = subprocess.run(
        [sqlc_binary(), "generate"],
        cwd=work,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    plugin_stderr = log.read_text() if log.is_file() else ""
    return Run(done.returncode, done.stderr, plugin_stderr, read_tree(work / OUT))


def run_cases(cases: list[str], scratch: Path) -> dict[str, Run]:
    """Run several cases at once (sqlc spends over a second encoding each JSON request)."""
    workers = min(len(cases), os.cpu_count() or 2) or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = pool.map(lambda case: run_sqlc(case, scratch / case), cases)
        return dict(zip(cases, runs, strict=True))


class CaseRuns:
    """Runs of cases, keyed by name: those named up front run in parallel, others on demand."""

    def __init__(self, scratch: Path, prefetch: list[str]) -> None:
        self._scratch = scratch
        self._runs = run_cases(prefetch, scratch / "prefetched") if prefetch else {}

    def __getitem__(self, case: str) -> Run:
        if case not in self._runs:
            self._runs[case] = run_sqlc(case, self._scratch / "on-demand" / case)
        return self._runs[case]


def tree_diff(expected: dict[str, bytes], actual: dict[str, bytes]) -> str:
    """A unified diff per differing file, ``expected/`` against what was generated."""
    chunks: list[str] = []
    for name in sorted(expected.keys() | actual.keys()):
        old, new = expected.get(name), actual.get(name)
        if old == new:
            continue
        if old is None:
            chunks.append(f"=== {name}: generated but not in expected/")
        elif new is None:
            chunks.append(f"=== {name}: in expected/ but not generated")
        else:
            chunks.append(f"=== {name}: contents differ")
        chunks.extend(
            difflib.unified_diff(
                (old or b"").decode(errors="replace").splitlines(),
                (new or b"").decode(errors="replace").splitlines(),
                fromfile=f"expected/{name}",
                tofile=f"generated/{name}",
                lineterm="",
            )
        )
        if old is not None and new is not None and old.splitlines() == new.splitlines():
            chunks.append("(only line endings or the final newline differ)")
    return "\n".join(chunks)


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    """Replace ``root`` with exactly ``files``."""
    if root.exists():
        shutil.rmtree(root)
    for name, contents in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(contents)
