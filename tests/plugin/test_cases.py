"""Every case folder, its recorded sqlc request replayed: exact files, errors and warnings.

The plugin runs in this process on ``request.json``; ``test_end_to_end.py`` checks that
the recordings are what sqlc sends. When a change to the plugin is intended,
``python tests/plugin/regen_cases.py --replay`` rewrites the expected files (without
``--replay``, after editing a case's inputs, it re-records the requests through sqlc);
review the diff.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys

import pytest

from tests.plugin.harness import (
    CASES,
    ERROR_FILE,
    OUT,
    REGEN_SCRIPT,
    REQUEST_FILE,
    ROOT,
    SOURCES_FILE,
    WARNINGS_FILE,
    case_names,
    error_cases,
    golden_cases,
    read_tree,
    replay,
    sources_digest,
    sqlc_version,
    tree_diff,
)

REGEN = f"python {REGEN_SCRIPT}"
# The larger cases: each run of the plugin gets a fresh hash seed, so set order would show.
DETERMINISM_CASES = ["commands", "enums", "macros", "option_overrides_values", "types_scalars"]


@pytest.mark.parametrize("case", golden_cases())
def test_generated_files_are_exactly_the_expected_ones(case: str) -> None:
    expected = read_tree(CASES / case / OUT)
    assert expected, f"{case} has neither {OUT}/ nor {ERROR_FILE}: run {REGEN} {case}"

    run = replay(case)

    assert run.returncode == 0, f"the plugin failed:\n{run.stderr}"
    diff = tree_diff(expected, run.files)
    if diff:
        pytest.fail(
            f"generated files differ from {case}/{OUT} (if intended: {REGEN} --replay)\n{diff}"
        )


@pytest.mark.parametrize("case", golden_cases())
def test_plugin_warns_exactly_as_expected(case: str) -> None:
    warnings = CASES / case / WARNINGS_FILE
    expected = warnings.read_text() if warnings.is_file() else ""

    run = replay(case)

    assert run.returncode == 0, run.stderr
    assert run.stderr == expected


@pytest.mark.parametrize("case", error_cases())
def test_rejected_input_fails_with_its_message_and_writes_nothing(case: str) -> None:
    message = (CASES / case / ERROR_FILE).read_text().strip()

    run = replay(case)

    assert run.returncode == 1, f"the plugin succeeded, writing {sorted(run.files)}"
    assert f"sqlc-gen-asyncpg: {message}" in run.stderr
    assert run.files == {}


def test_unknown_types_are_any_with_a_warning_naming_table_query_and_type() -> None:
    run = replay("unknown_type")

    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == [
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


def test_generation_is_deterministic() -> None:
    # One interpreter per hash seed (a process never changes its own), each compared with
    # this process's answer: set or dict order that leaked into the output would show.
    for case in DETERMINISM_CASES:
        for seed in ("0", "1"):
            done = subprocess.run(
                [sys.executable, "-m", "codegen"],
                input=(CASES / case / REQUEST_FILE).read_bytes(),
                cwd=ROOT,
                env={**os.environ, "PYTHONHASHSEED": seed},
                capture_output=True,
                timeout=60,
                check=True,
            )
            files = {
                f["name"]: base64.b64decode(f["contents"]) for f in json.loads(done.stdout)["files"]
            }

            assert files == replay(case).files, f"{case}: hash seed {seed} changes the output"


def test_every_recorded_request_was_recorded_from_the_cases_current_inputs() -> None:
    # Cheap staleness check for every case; test_end_to_end.py re-records one through sqlc.
    version = sqlc_version()
    for case in case_names():
        recorded = CASES / case / SOURCES_FILE
        assert recorded.is_file(), f"{case}: no {SOURCES_FILE}: run {REGEN} {case}"
        assert recorded.read_text() == sources_digest(case, version), (
            f"{case}: inputs or sqlc changed since its request was recorded: run {REGEN} {case}"
        )


def test_every_case_is_complete_and_of_one_kind() -> None:
    for case in case_names():
        folder = CASES / case
        assert re.fullmatch(r"[a-z][a-z0-9_]*", case), f"{case}: name it in snake_case"
        assert (folder / "schema.sql").is_file(), f"{case}: no schema.sql"
        assert (folder / REQUEST_FILE).is_file(), f"{case}: no {REQUEST_FILE}"
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
    assert "              values: [" in sources, "overrides[].values"
