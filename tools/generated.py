"""Write generated/ (`make gen`), or check it is exactly what would be written.

Both run sqlc on a scratch copy of the inputs. `write` then replaces generated/
wholesale, so modules of deleted query files disappear; `check` compares file by
file, so stale leftovers (which `sqlc diff` ignores) are reported too.

Usage: python -m tools.generated write|check
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tools import venv_tool

ROOT = Path(__file__).resolve().parent.parent
OUT = "generated"
INPUTS = ("sqlc.yaml", "db/migrations", "queries")


def regenerate(scratch: Path, inputs: Path = ROOT) -> Path:
    """Run sqlc on a copy of the inputs (from ``inputs``) in ``scratch``; return the output."""
    for name in INPUTS:
        source = inputs / name
        target = scratch / name
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (scratch / "codegen").symlink_to(ROOT / "codegen")
    result = subprocess.run(
        [venv_tool("sqlc"), "generate"], cwd=scratch, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"sqlc generate failed:\n{result.stdout}{result.stderr}")
    return scratch / OUT


def _files(directory: Path) -> dict[str, bytes]:
    if not directory.is_dir():
        return {}
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def compare(committed: Path, fresh: Path) -> list[str]:
    """One problem per differing file, each naming it."""
    have, want = _files(committed), _files(fresh)
    problems = []
    for name in sorted(set(have) | set(want)):
        path = f"{OUT}/{name}"
        if name not in want:
            problems.append(f"{path}: stale file, `make gen` would not write it (delete it)")
        elif name not in have:
            problems.append(f"{path}: missing, `make gen` would create it")
        elif have[name] != want[name]:
            diff = difflib.unified_diff(
                have[name].decode().splitlines(),
                want[name].decode().splitlines(),
                f"{path} (committed)",
                f"{path} (make gen)",
                lineterm="",
                n=1,
            )
            problems.append(
                f"{path}: differs from what `make gen` writes\n" + "\n".join(list(diff)[:40])
            )
    return problems


def write() -> int:
    with tempfile.TemporaryDirectory(prefix="gen-") as scratch:
        fresh = regenerate(Path(scratch))
        shutil.rmtree(ROOT / OUT, ignore_errors=True)
        shutil.copytree(fresh, ROOT / OUT)
    print(f"wrote {OUT}/")
    return 0


def check() -> int:
    with tempfile.TemporaryDirectory(prefix="check-generated-") as scratch:
        problems = compare(ROOT / OUT, regenerate(Path(scratch)))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("generated/ is out of date: run `make gen` and commit the result.", file=sys.stderr)
        return 1
    print("generated/ is current.")
    return 0


if __name__ == "__main__":
    commands = {"write": write, "check": check}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        raise SystemExit("usage: python -m tools.generated write|check")
    sys.exit(commands[sys.argv[1]]())
