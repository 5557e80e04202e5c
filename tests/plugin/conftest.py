"""One sqlc run per case, shared by every test that looks at that case."""

from __future__ import annotations

import pytest

from tests.plugin.harness import CaseRuns


@pytest.fixture(scope="session")
def case_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> CaseRuns:
    """Every case the collected tests are parametrized with, run once and in parallel."""
    cases = {
        str(item.callspec.params["case"])
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and "case_runs" in item.fixturenames
        and hasattr(item, "callspec")
        and "case" in item.callspec.params
    }
    return CaseRuns(tmp_path_factory.mktemp("sqlc-runs"), sorted(cases))
