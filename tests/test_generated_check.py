"""`make check-generated` names every file that `make gen` would change, add or delete."""

from __future__ import annotations

import shutil
from pathlib import Path

from tools.generated import INPUTS, OUT, ROOT, compare, regenerate


def test_a_query_changed_without_regenerating_is_reported_by_file(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    for name in INPUTS:
        source, target = ROOT / name, inputs / name
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    users = inputs / "queries" / "users.sql"
    users.write_text(
        users.read_text() + "\n-- name: CountUsers :one\nSELECT count(*) FROM users;\n"
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    problems = compare(ROOT / OUT, regenerate(scratch, inputs))

    assert len(problems) == 1
    assert problems[0].startswith("generated/users.py: differs from what `make gen` writes")
    assert "+async def count_users(conn: Executor) -> int:" in problems[0]


def test_stale_and_missing_files_are_reported(tmp_path: Path) -> None:
    committed, fresh = tmp_path / "committed", tmp_path / "fresh"
    committed.mkdir()
    fresh.mkdir()
    (committed / "same.py").write_text("x = 1\n")
    (fresh / "same.py").write_text("x = 1\n")
    (committed / "leftover.py").write_text("")
    (fresh / "new.py").write_text("")

    problems = compare(committed, fresh)

    assert problems == [
        "generated/leftover.py: stale file, `make gen` would not write it (delete it)",
        "generated/new.py: missing, `make gen` would create it",
    ]
