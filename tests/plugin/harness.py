"""Run the plugin on one case folder: in-process on its recorded request, or through sqlc.

A case is a folder of ``cases/``: ``sqlc.yaml`` (its plugin ``cmd`` is
``codegen/sqlc-gen-asyncpg`` and its codegen ``out`` is ``expected``), ``schema.sql``,
the queries, then either ``expected/`` (the exact files the plugin writes) or
``expected_error.txt`` (text that the plugin's error output must contain). A case with
``expected/`` may add ``expected_warnings.txt``: exactly what the plugin writes to stderr.

``request.json`` is the request sqlc sends the plugin for the case (minus the built-in
``pg_catalog`` and ``information_schema``, which the plugin skips and which would make it
a megabyte), and ``request.sha256`` the sqlc version and digests of the inputs it was
recorded from. ``regen_cases.py`` writes all three; most tests only replay the request,
which takes milliseconds where a sqlc run takes seconds.
"""

from __future__ import annotations

import base64
import difflib
import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codegen.__main__ import main as plugin_main
from codegen.request import SYSTEM_SCHEMAS

PLUGIN_TESTS = Path(__file__).resolve().parent
CASES = PLUGIN_TESTS / "cases"
ROOT = PLUGIN_TESTS.parent.parent
CODEGEN = ROOT / "codegen"

OUT = "expected"
ERROR_FILE = "expected_error.txt"
WARNINGS_FILE = "expected_warnings.txt"
REQUEST_FILE = "request.json"
SOURCES_FILE = "request.sha256"
REGEN_SCRIPT = "tests/plugin/regen_cases.py"
# What a case folder holds besides its inputs: never copied into the scratch directory.
_RESULTS = (OUT, ERROR_FILE, WARNINGS_FILE, REQUEST_FILE, SOURCES_FILE, "__pycache__")

# sqlc shows a plugin's stderr only when the plugin fails, and never shows its stdin. The
# plugin's executable starts with `#!/usr/bin/env python3`, so a `python3` placed first on
# PATH can keep a copy of both.
_PYTHON_SHIM = """\
#!/bin/sh
tee "{request}" | "{python}" "$@" 2>"{log}"
status=$?
cat "{log}" >&2
exit $status
"""


@dataclass(frozen=True, slots=True)
class Run:
    """What one ``sqlc generate`` did: exit code, stderr, the plugin's stdin and stderr, files."""

    returncode: int
    stderr: str
    plugin_stderr: str
    files: dict[str, bytes]
    request: bytes
    """The request sqlc sent, as sent; empty when sqlc failed before running the plugin."""


@dataclass(frozen=True, slots=True)
class PluginRun:
    """What the plugin answered to one request: exit code, stderr, the files of its response."""

    returncode: int
    stderr: str
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


@functools.cache
def sqlc_version() -> str:
    done = subprocess.run(
        [sqlc_binary(), "version"], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


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


def case_inputs(case: str) -> dict[str, bytes]:
    """The files sqlc reads for ``case``: everything in its folder but the recorded results."""
    return {
        name: contents
        for name, contents in read_tree(CASES / case).items()
        if name.split("/")[0] not in _RESULTS
    }


def sources_digest(case: str, version: str) -> str:
    """``request.sha256`` of ``case`` as it is now: the sqlc version, then one line per input."""
    lines = [f"sqlc {version}"]
    lines.extend(
        f"{hashlib.sha256(contents).hexdigest()}  {name}"
        for name, contents in case_inputs(case).items()
    )
    return "\n".join(lines) + "\n"


def trim_request(request: bytes) -> str:
    """The request as ``request.json`` stores it: without sqlc's built-in schemas, indented."""
    raw: dict[str, Any] = json.loads(request)
    catalog = raw.get("catalog") or {}
    catalog["schemas"] = [
        schema
        for schema in catalog.get("schemas") or []
        if schema.get("name") not in SYSTEM_SCHEMAS
    ]
    return json.dumps(raw, indent=1) + "\n"


def run_sqlc(case: str, scratch: Path) -> Run:
    """Copy ``case`` into ``scratch``, link the plugin as ``codegen``, run ``sqlc generate``."""
    work = scratch / case
    shutil.copytree(CASES / case, work, ignore=shutil.ignore_patterns(*_RESULTS))
    (work / "codegen").symlink_to(CODEGEN, target_is_directory=True)
    shim = scratch / "python-shim"
    shim.mkdir()
    log = scratch / "plugin-stderr.txt"
    request = scratch / "plugin-stdin.json"
    (shim / "python3").write_text(
        _PYTHON_SHIM.format(python=sys.executable, log=log, request=request)
    )
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
    sent = request.read_bytes() if request.is_file() else b""
    return Run(done.returncode, done.stderr, plugin_stderr, read_tree(work / OUT), sent)


def run_cases(cases: list[str], scratch: Path) -> dict[str, Run]:
    """Run several cases through sqlc at once (it spends over a second encoding each request)."""
    workers = min(len(cases), os.cpu_count() or 2) or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = pool.map(lambda case: run_sqlc(case, scratch / case), cases)
        return dict(zip(cases, runs, strict=True))


def run_plugin(request: bytes) -> PluginRun:
    """Answer ``request`` in this process, through the plugin's own entry point."""
    stdout, stderr = io.StringIO(), io.StringIO()
    returncode = plugin_main(io.BytesIO(request), stdout, stderr)
    files: dict[str, bytes] = {}
    if returncode == 0:
        response = json.loads(stdout.getvalue())
        files = {f["name"]: base64.b64decode(f["contents"]) for f in response["files"]}
    return PluginRun(returncode, stderr.getvalue(), files)


@functools.cache
def replay(case: str) -> PluginRun:
    """The plugin's answer to the recorded request of ``case`` (computed once per session)."""
    request = CASES / case / REQUEST_FILE
    if not request.is_file():
        raise AssertionError(f"{case}: no {REQUEST_FILE}: run python {REGEN_SCRIPT} {case}")
    return run_plugin(request.read_bytes())


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
