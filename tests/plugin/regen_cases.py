"""Re-record plugin test cases: the request sqlc sends, and what the plugin answers.

    python tests/plugin/regen_cases.py                    # every case, through sqlc
    python tests/plugin/regen_cases.py 'types_*'          # cases matching a glob
    python tests/plugin/regen_cases.py --replay           # plugin changed only: no sqlc

Through sqlc, each case's ``request.json`` and ``request.sha256`` are rewritten (do this
after editing a case's inputs or upgrading sqlc), then its ``expected/`` and
``expected_warnings.txt`` from what the plugin wrote. ``--replay`` feeds the recorded
requests to the plugin in-process and rewrites only ``expected/`` and the warnings: enough
after a change to ``codegen/``, and it takes a second. Error cases (``expected_error.txt``)
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
    REQUEST_FILE,
    SOURCES_FILE,
    WARNINGS_FILE,
    PluginRun,
    Run,
    case_names,
    is_error_case,
    run_cases,
    run_plugin,
    sources_digest,
    sqlc_version,
    trim_request,
    write_tree,
)


def record_request(case: str, run: Run) -> bool:
    """Write the request sqlc sent for ``case``; False when sqlc never ran the plugin."""
    if not run.request:
        print(f"FAIL  {case}: sqlc did not run the plugin\n{run.stderr.strip()}")
        return False
    folder = CASES / case
    (folder / REQUEST_FILE).write_text(trim_request(run.request))
    (folder / SOURCES_FILE).write_text(sources_digest(case, sqlc_version()))
    replayed = run_plugin((folder / REQUEST_FILE).read_bytes())
    if replayed.files != run.files or replayed.stderr != run.plugin_stderr:
        print(f"FAIL  {case}: replaying {REQUEST_FILE} does not give what sqlc wrote")
        return False
    return True


def record(case: str, run: PluginRun) -> bool:
    """Write one case's expected files; False when it did not behave as its kind requires."""
    folder = CASES / case
    if is_error_case(case):
        wanted = (folder / ERROR_FILE).read_text().strip()
        ok = run.returncode != 0 and wanted in run.stderr
        print(f"{'ok  ' if ok else 'FAIL'}  {case} (error case): {run.stderr.strip()}")
        return ok
    if run.returncode != 0:
        print(f"FAIL  {case}: the plugin failed\n{run.stderr.strip()}")
        return False
    write_tree(folder / OUT, run.files)
    warnings = folder / WARNINGS_FILE
    if run.stderr:
        warnings.write_text(run.stderr)
    elif warnings.exists():
        warnings.unlink()
    print(f"ok    {case}: {len(run.files)} files{', warnings' if run.stderr else ''}")
    return True


def main(args: list[str]) -> int:
    replay = "--replay" in args
    patterns = [arg for arg in args if arg != "--replay"]
    cases = [
        case
        for case in case_names()
        if not patterns or any(fnmatch.fnmatch(case, pattern) for pattern in patterns)
    ]
    if not cases:
        print("no case matches", file=sys.stderr)
        return 1
    results: list[bool] = []
    if not replay:
        with tempfile.TemporaryDirectory() as scratch:
            runs = run_cases(cases, Path(scratch))
        results = [record_request(case, run) for case, run in runs.items()]
        cases = [case for case, ok in zip(cases, results, strict=True) if ok]
    for case in cases:
        request = CASES / case / REQUEST_FILE
        if not request.is_file():
            print(f"FAIL  {case}: no {REQUEST_FILE}; run without --replay first")
            results.append(False)
            continue
        results.append(record(case, run_plugin(request.read_bytes())))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
