"""PostgreSQL type names -> Python annotations for values as asyncpg decodes them."""

from __future__ import annotations

from dataclasses import dataclass

from .naming import pascal_case
from .options import Override
from .request import Column, Enum, Identifier


@dataclass(frozen=True, slots=True)
class PyType:
    """The Python side of one column or parameter type, before nullability and arrays."""

    base: str
    """Annotation of a value read from the database."""
    param: str
    """Annotation of a value passed to the database (wider for JSON)."""
    modules: frozenset[str] = frozenset()
    """Modules to ``import`` for the annotation."""
    db_names: frozenset[str] = frozenset()
    """Names to import from the generated ``db`` module."""
    enum: str | None = None
    """Model class of an enum type: values arrive as ``str`` and are converted."""
    literal: str | None = None
    """``Literal`` alias in the models module (an override's ``values``): plain ``str`` values."""
    unknown: bool = False


def _builtin(name: str) -> PyType:
    return PyType(name, name)


def _module(annotation: str) -> PyType:
    module = annotation.rpartition(".")[0]
    return PyType(annotation, annotation, modules=frozenset({module}))


_INT = _builtin("int")
_FLOAT = _builtin("float")
_STR = _builtin("str")
_JSON = PyType("JsonValue", "JsonInput", db_names=frozenset({"JsonValue", "JsonInput"}))
_INET = PyType("Inet", "Inet", db_names=frozenset({"Inet"}))
_CIDR = PyType("Cidr", "Cidr", db_names=frozenset({"Cidr"}))

_BY_NAME: dict[str, PyType] = {
    **dict.fromkeys(
        [
            "int2", "smallint", "smallserial", "serial2",
            "int4", "int", "integer", "serial", "serial4",
            "int8", "bigint", "bigserial", "serial8", "oid",
        ],
        _INT,
    ),
    **dict.fromkeys(["float4", "real", "float8", "float", "double precision"], _FLOAT),
    **dict.fromkeys(["numeric", "decimal"], _module("decimal.Decimal")),
    **dict.fromkeys(["bool", "boolean"], _builtin("bool")),
    **dict.fromkeys(
        ["text", "varchar", "character varying", "char", "bpchar", "character", "citext", "name"],
        _STR,
    ),
    "uuid": _module("uuid.UUID"),
    "bytea": _builtin("bytes"),
    "date": _module("datetime.date"),
    **dict.fromkeys(["time", "time without time zone", "timetz", "time with time zone"], _module("datetime.time")),
    **dict.fromkeys(
        ["timestamp", "timestamp without time zone", "timestamptz", "timestamp with time zone"],
        _module("datetime.datetime"),
    ),
    "interval": _module("datetime.timedelta"),
    **dict.fromkeys(["json", "jsonb"], _JSON),
    "inet": _INET,
    "cidr": _CIDR,
    "void": _builtin("None"),
}  # fmt: skip

_ANY = PyType("Any", "Any", modules=frozenset(), db_names=frozenset(), unknown=True)


def split_type(identifier: Identifier) -> tuple[str, str]:
    """(schema, name) of a type; sqlc may qualify the name itself (``pg_catalog.int4``)."""
    schema, _, name = identifier.name.rpartition(".")
    return (schema or identifier.schema, name)


def type_name(identifier: Identifier) -> str:
    """Bare, lower-case type name (``pg_catalog.int4`` -> ``int4``)."""
    return split_type(identifier)[1].lower()


def is_text(identifier: Identifier) -> bool:
    """True for the types whose values asyncpg returns as ``str`` (text, varchar...)."""
    return _BY_NAME.get(type_name(identifier)) is _STR


class TypeMap:
    """Resolves columns to Python types, honouring enums and overrides."""

    def __init__(
        self,
        enums: tuple[Enum, ...],
        overrides: tuple[Override, ...],
        default_schema: str,
        literals: dict[str, str],
    ):
        """``literals`` names the alias of each ``values`` override, keyed by its column."""
        self._enums = {(e.schema, e.name): e for e in enums}
        self._default_schema = default_schema
        self._by_type = {o.db_type: o for o in overrides if o.db_type is not None}
        self._by_column = {o.column: o for o in overrides if o.column is not None}
        self._literals = literals

    def enum_class(self, enum: Enum) -> str:
        prefix = "" if enum.schema == self._default_schema else pascal_case(enum.schema)
        return prefix + pascal_case(enum.name)

    def find_enum(self, identifier: Identifier) -> Enum | None:
        schema, name = split_type(identifier)
        return self._enums.get((schema or self._default_schema, name))

    def _column_override(self, column: Column) -> Override | None:
        if column.table is None or not self._by_column:
            return None
        schema = column.table.schema or self._default_schema
        for key in (
            f"{column.table.name}.{column.name}",
            f"{schema}.{column.table.name}.{column.name}",
        ):
            if key in self._by_column:
                return self._by_column[key]
        return None

    def resolve(self, column: Column) -> PyType:
        """The base type of ``column``; a column override wins over a type override."""
        override = self._column_override(column) or self._by_type.get(type_name(column.type))
        if override is not None and override.py_type is None:
            name = self._literals[override.column or ""]
            return PyType(name, name, literal=name)
        if override is not None and override.py_type is not None:
            modules = frozenset({override.module}) if override.module else frozenset()
            return PyType(override.py_type, override.py_type, modules=modules)
        enum = self.find_enum(column.type)
        if enum is not None:
            name = self.enum_class(enum)
            return PyType(name, name, enum=name)
        return _BY_NAME.get(type_name(column.type), _ANY)
