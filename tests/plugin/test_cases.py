"""Every case folder, run through the real sqlc binary: exact files, exact errors, exact warnings.

When a change to the plugin is intended, ``python tests/plugin/regen_cases.py`` rewrites
the expected files; review the diff.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.plugin.harness import (
    CASES,
    ERROR_FILE,
    OUT,
    WARNINGS_FILE,
    CaseRuns,
    case_names,
    error_cases,
    golden_cases,
    read_tree,
    run_cases,
    tree_diff,
)

REGEN = "python tests/plugin/regen_cases.py"
# The larger cases: each run of the plugin gets a fresh hash seed, so set order would show.
DETERMINISM_CASES = ["commands", "enums", "macros", "types_scalars"]


@pytest.mark.parametrize("case", golden_cases())
def test_generated_files_are_exactly_the_expected_ones(case: str, case_runs: CaseRuns) -> None:
    expected = read_tree(CASES / case / OUT)
    assert expected, f"{case} has neither {OUT}/ nor {ERROR_FILE}: run {REGEN} {case}"

    run = case_runs[case]

    assert run.returncode == 0, f"sqlc generate failed:\n{run.stderr}"
    assert run.stderr == ""
    diff = tree_diff(expected, run.files)
    if diff:
        pytest.fail(f"generated files differ from {case}/{OUT} (if intended: {REGEN})\n{diff}")


@pytest.mark.parametrize("case", golden_cases())
def test_plugin_warns_exactly_as_expected(case: str, case_runs: CaseRuns) -> None:
    warnings = CASES / case / WARNINGS_FILE
    expected = warnings.read_text() if warnings.is_file() else ""

    run = case_runs[case]

    assert run.returncode == 0, run.stderr
    assert run.plugin_stderr == expected


@pytest.mark.parametrize("case", error_cases())
def test_rejected_input_fails_with_its_message_and_writes_nothing(
    case: str, case_runs: CaseRuns
) -> None:
    message = (CASES / case / ERROR_FILE).read_text().strip()

    run = case_runs[case]

    assert run.returncode != 0, f"sqlc generate succeeded, writing {sorted(run.files)}"
    assert message in run.stderr
    assert run.files == {}


def test_unknown_types_are_any_with_a_warning_naming_table_query_and_type(
    case_runs: CaseRuns,
) -> None:
    run = case_runs["unknown_type"]

    assert run.returncode == 0, run.stderr
    assert run.plugin_stderr.splitlines() == [
        "sqlc-gen-asyncpg: warning: table places, column location: unknown PostgreSQL type "
        "'point', typed as Any (add an override to type it)",
        "sqlc-gen-asyncpg: warning: table places, column search: unknown PostgreSQL type "
        "'tsvector', typed as Any (add an override to type it)",
        "sqlc-gen-asyncpg: warning: query SearchPlaces, column location: unknown PostgreSQL "
        "type 'point', typed as Any (add an override to type it)",
        "sqlc-gen-asyncpg: warning: query MovePlace, parameter location: unknown PostgreSQL "
        "type 'point', typed as Any (add an override to type it)",
    ]
    models = run.files["models.py"].decode()
    assert "    location: Any\n    search: Any | None\n" in models
    assert "from typing import Any\n" in models


def test_generation_is_deterministic(case_runs: CaseRuns, tmp_path: Path) -> None:
    second = run_cases(DETERMINISM_CASES, tmp_path)

    for case, run in second.items():
        assert run.returncode == 0, run.stderr
        assert run.files == case_runs[case].files, f"{case}: two runs differ"


def test_every_case_is_complete_and_of_one_kind() -> None:
    for case in case_names():
        folder = CASES / case
        assert re.fullmatch(r"[a-z][a-z0-9_]*", case), f"{case}: name it in snake_case"
        assert (folder / "schema.sql").is_file(), f"{case}: no schema.sql"
        config = (folder / "sqlc.yaml").read_text()
        assert "cmd: codegen/sqlc-gen-asyncpg" in config, f"{case}: plugin cmd"
        assert f"out: {OUT}\n" in config, f"{case}: codegen out must be {OUT}"
        has_error = (folder / ERROR_FILE).is_file()
        assert has_error != (folder / OUT).is_dir(), f"{case}: need {OUT}/ or {ERROR_FILE}"
        if has_error:
            assert not (folder / WARNINGS_FILE).exists(), f"{case}: warnings on an error case"
            assert (folder / ERROR_FILE).read_text().strip(), f"{case}: empty {ERROR_FILE}"


def test_cases_cover_every_command_and_option() -> None:
    sources = "\n".join(
        path.read_text()
        for path in CASES.rglob("*")
        if path.is_file() and path.suffix in {".sql", ".yaml"} and OUT not in path.parts
    )
    for command in [
        ":one",
        ":many",
        ":exec",
        ":execrows",
        ":execresult",
        ":copyfrom",
        ":batchexec",
        ":batchmany",
        ":batchone",
        ":execlastid",
    ]:
        assert re.search(rf"-- name: \w+ {command}\n", sources), command
    for option in [
        "package",
        "query_parameter_limit",
        "emit_exact_table_names",
        "inflection_exclude_table_names",
        "omit_unused_models",
        "rename",
        "overrides",
    ]:
        assert f"          {option}:" in sources, option
