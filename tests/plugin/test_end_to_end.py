"""The plugin as sqlc runs it: the project's own config, one generating case, one failing case.

Only these run the real sqlc binary (seconds each); every other case replays the request
recorded in its folder. Each run here also re-records its request and compares it with the
recording, so a recording that no longer matches what sqlc sends is caught.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin.harness import (
    CASES,
    ERROR_FILE,
    OUT,
    REGEN_SCRIPT,
    REQUEST_FILE,
    WARNINGS_FILE,
    Run,
    read_tree,
    run_cases,
    tree_diff,
    trim_request,
)
from tools.generated import OUT as PACKAGE
from tools.generated import ROOT, compare, regenerate

GENERATING_CASE = "commands"
FAILING_CASE = "error_unknown_option"


@pytest.fixture(scope="module")
def sqlc_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    return run_cases([GENERATING_CASE, FAILING_CASE], tmp_path_factory.mktemp("sqlc"))


def test_the_projects_own_config_generates_exactly_the_committed_package(
    tmp_path: Path,
) -> None:
    problems = compare(ROOT / PACKAGE, regenerate(tmp_path))

    assert problems == [], "\n".join(problems)


def test_sqlc_with_the_plugin_writes_a_cases_expected_files(sqlc_runs: dict[str, Run]) -> None:
    folder = CASES / GENERATING_CASE
    warnings = folder / WARNINGS_FILE

    run = sqlc_runs[GENERATING_CASE]

    assert run.returncode == 0, f"sqlc generate failed:\n{run.stderr}"
    assert run.stderr == ""
    assert tree_diff(read_tree(folder / OUT), run.files) == ""
    assert run.plugin_stderr == (warnings.read_text() if warnings.is_file() else "")


def test_sqlc_shows_the_plugins_error_and_writes_nothing(sqlc_runs: dict[str, Run]) -> None:
    message = (CASES / FAILING_CASE / ERROR_FILE).read_text().strip()

    run = sqlc_runs[FAILING_CASE]

    assert run.returncode != 0
    assert f"sqlc-gen-asyncpg: {message}" in run.stderr
    assert run.files == {}


@pytest.mark.parametrize("case", [GENERATING_CASE, FAILING_CASE])
def test_the_recorded_request_is_what_sqlc_sends(case: str, sqlc_runs: dict[str, Run]) -> None:
    recorded = (CASES / case / REQUEST_FILE).read_text()

    sent = trim_request(sqlc_runs[case].request)

    assert sent == recorded, f"{case}/{REQUEST_FILE} is stale: run python {REGEN_SCRIPT} {case}"
