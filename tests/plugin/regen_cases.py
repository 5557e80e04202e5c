"""Rewrite the ``expected/`` folder of plugin test cases from what sqlc generates now.

    python tests/plugin/regen_cases.py            # every case
    python tests/plugin/regen_cases.py 'types_*'  # cases matching a glob

``expected_warnings.txt`` follows the plugin's stderr. Error cases (``expected_error.txt``)
are only run and reported: their message is written by hand. Review
``git diff tests/plugin/cases`` before committing: those files are the specification.
"""

from __future__ import annotations

import fnmatch
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.plugin.harness import (
    CASES,
    ERROR_FILE,
    OUT,
    WARNINGS_FILE,
    Run,
    case_names,
    is_error_case,
    run_cases,
    write_tree,
)


def record(case: str, run: Run) -> bool:
    """Write one case's expected files; False when it did not behave as its kind requires."""
    folder = CASES / case
    if is_error_case(case):
        wanted = (folder / ERROR_FILE).read_text().strip()
        ok = run.returncode != 0 and wanted in run.stderr
        print(f"{'ok  ' if ok else 'FAIL'}  {case} (error case): {run.stderr.strip()}")
        return ok
    if run.returncode != 0:
        print(f"FAIL  {case}: sqlc failed\n{run.stderr.strip()}")
        return False
    write_tree(folder / OUT, run.files)
    warnings = folder / WARNINGS_FILE
    if run.plugin_stderr:
        warnings.write_text(run.plugin_stderr)
    elif warnings.exists():
        warnings.unlink()
    print(f"ok    {case}: {len(run.files)} files{', warnings' if run.plugin_stderr else ''}")
    return True


def main(patterns: list[str]) -> int:
    cases = [
        case
        for case in case_names()
        if not patterns or any(fnmatch.fnmatch(case, pattern) for pattern in patterns)
    ]
    if not cases:
        print("no case matches", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        runs = run_cases(cases, Path(scratch))
    results = [record(case, run) for case, run in runs.items()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
