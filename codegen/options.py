"""Plugin options, named as sqlc's Python plugins name them."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import Any

from .errors import GenerateError

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OVERRIDE_KEYS = frozenset({"db_type", "column", "py_type", "values"})


@dataclass(frozen=True, slots=True)
class Override:
    """Annotate values of one database type, or of one ``table.column``, as ``py_type``.

    A column override may give ``values`` instead: the column's only values (those its
    CHECK constraint allows), typed as a ``Literal`` alias in the models module.
    """

    db_type: str | None
    column: str | None
    py_type: str | None
    values: tuple[str, ...] = ()

    @property
    def module(self) -> str | None:
        """The module to import for ``py_type`` (``None`` for builtins and ``values``)."""
        module, _, _ = (self.py_type or "").rpartition(".")
        return module or None


@dataclass(frozen=True, slots=True)
class Options:
    package: str = "generated"
    query_parameter_limit: int = 4
    emit_exact_table_names: bool = False
    inflection_exclude_table_names: frozenset[str] = frozenset()
    omit_unused_models: bool = False
    rename: tuple[tuple[str, str], ...] = ()
    overrides: tuple[Override, ...] = ()

    def renamed(self, name: str) -> str | None:
        for key, value in self.rename:
            if key == name:
                return value
        return None


_KINDS = {
    int: "an integer",
    bool: "true or false",
    str: "a string",
    list: "a list",
    dict: "a mapping",
}


def _expect(value: object, kind: type, what: str) -> Any:
    # bool is an int subclass; a JSON true is never a valid parameter limit.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        got = _KINDS.get(type(value), type(value).__name__)
        raise GenerateError(f"option {what} must be {_KINDS[kind]}, got {value!r} ({got})")
    return value


def _override(index: int, raw: object) -> Override:
    where = f"overrides[{index}]"
    entry = _expect(raw, dict, where)
    unknown = sorted(set(entry) - _OVERRIDE_KEYS)
    if unknown:
        raise GenerateError(
            f"option {where}: unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_OVERRIDE_KEYS))})"
        )
    db_type = entry.get("db_type")
    column = entry.get("column")
    if (db_type is None) == (column is None):
        raise GenerateError(f"option {where}: set exactly one of db_type or column")
    if db_type is not None:
        db_type = _expect(db_type, str, f"{where}.db_type").lower()
    if column is not None:
        column = _expect(column, str, f"{where}.column")
        if column.count(".") not in (1, 2):
            raise GenerateError(f"option {where}.column: write table.column or schema.table.column")
    if "values" in entry:
        if "py_type" in entry:
            raise GenerateError(f"option {where}: set either py_type or values, not both")
        if column is None:
            raise GenerateError(f"option {where}.values: values need a column, not a db_type")
        return Override(db_type=None, column=column, py_type=None, values=_values(where, entry))
    py_type = _expect(entry.get("py_type"), str, f"{where}.py_type")
    if not _DOTTED.match(py_type):
        raise GenerateError(f"option {where}.py_type: {py_type!r} is not a dotted Python name")
    return Override(db_type=db_type, column=column, py_type=py_type)


def _values(where: str, entry: dict[str, Any]) -> tuple[str, ...]:
    values = _expect(entry["values"], list, f"{where}.values")
    if not values:
        raise GenerateError(f"option {where}.values: list at least one value")
    for index, value in enumerate(values):
        _expect(value, str, f"{where}.values[{index}]")
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise GenerateError(f"option {where}.values: {', '.join(map(repr, repeated))} listed twice")
    return tuple(values)


def parse_options(raw: dict[str, Any]) -> Options:
    """Validate the ``options`` mapping of the codegen entry; unknown keys are an error."""
    known = {
        "package",
        "query_parameter_limit",
        "emit_exact_table_names",
        "inflection_exclude_table_names",
        "omit_unused_models",
        "rename",
        "overrides",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise GenerateError(
            f"unknown option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    options = Options()
    package = _expect(raw.get("package", options.package), str, "package")
    if not _DOTTED.match(package):
        raise GenerateError(f"option package: {package!r} is not a Python package name")
    limit = _expect(
        raw.get("query_parameter_limit", options.query_parameter_limit),
        int,
        "query_parameter_limit",
    )
    if limit < 0:
        raise GenerateError("option query_parameter_limit must be 0 or more")
    excluded = _expect(
        raw.get("inflection_exclude_table_names", []), list, "inflection_exclude_table_names"
    )
    rename = _expect(raw.get("rename", {}), dict, "rename")
    for key, value in rename.items():
        _expect(value, str, f"rename.{key}")
        if not _IDENTIFIER.match(value) or keyword.iskeyword(value):
            raise GenerateError(f"option rename.{key}: {value!r} is not a Python identifier")
    overrides = _expect(raw.get("overrides", []), list, "overrides")
    return Options(
        package=package,
        query_parameter_limit=limit,
        emit_exact_table_names=_expect(
            raw.get("emit_exact_table_names", False), bool, "emit_exact_table_names"
        ),
        inflection_exclude_table_names=frozenset(
            _expect(name, str, "inflection_exclude_table_names[]") for name in excluded
        ),
        omit_unused_models=_expect(
            raw.get("omit_unused_models", False), bool, "omit_unused_models"
        ),
        rename=tuple(sorted(rename.items())),
        overrides=tuple(_override(i, entry) for i, entry in enumerate(overrides)),
    )
