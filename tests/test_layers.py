"""The layer contracts of .importlinter hold, and a change that breaks one fails `make lint`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    environment = os.environ | {"PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages the contracts cover, to break on purpose."""
    for package in ("service", "generated"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def add_import(module: Path, line: str) -> None:
    text = module.read_text()
    head, marker, rest = text.partition("from __future__ import annotations\n")
    module.write_text(head + marker + line + "\n" + rest)


def test_the_project_keeps_every_layer_contract(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # RAG reaching up into HTTP.
        ("service/rag/sparse.py", "import service.errors", "layers point one way"),
        # A use case reaching around the store to the generated queries.
        ("service/usecases/chat.py", "import generated.messages", "Only the store imports"),
        # An endpoint using a store module instead of the store's package.
        ("service/endpoints/sessions.py", "import service.store.tx", "never its modules"),
    ],
)
def test_an_import_against_the_layers_fails_the_lint(
    tree: Path, module: str, line: str, contract: str
) -> None:
    add_import(tree / module, line)

    result = lint_imports(tree)

    assert result.returncode != 0
    assert "1 broken" in result.stdout
    assert contract in result.stdout.replace("\n", " ")
