"""From the parsed request to a plan of what to emit: models, enums, query modules.

All decisions (names, result shapes, parameter passing, errors) live here; the
renderer only turns the plan into text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from .errors import GenerateError
from .naming import deduplicate, enum_member, pascal_case, safe_identifier, singular, snake_case
from .options import Options, Override
from .pgtypes import PyType, TypeMap, is_text
from .request import Column, Identifier, Query, Request, Table
from .sqltext import analyse

SUPPORTED_COMMANDS = (":one", ":many", ":exec", ":execrows", ":execresult", ":copyfrom")
_UNSUPPORTED_ADVICE = {
    ":execlastid": "PostgreSQL has no last insert id: write `INSERT ... RETURNING id` with :one",
    ":batchexec": "asyncpg has no batch API here: run the query in a loop inside one transaction, or use :copyfrom",
    ":batchmany": "asyncpg has no batch API here: use one :many query with `= ANY(@ids::type[])`",
    ":batchone": "asyncpg has no batch API here: use one :many query with `= ANY(@ids::type[])`",
}
GENERATED_MODULES = frozenset({"models", "db", "__init__"})


@dataclass(frozen=True, slots=True)
class Value:
    """A typed value: a model field, a row field or a parameter."""

    name: str
    type: PyType
    nullable: bool
    array_dims: int
    comment: str = ""

    @property
    def converted(self) -> bool:
        """Whether the value asyncpg returns must be converted: enums, and lists of them."""
        return bool(self.type.enum) and self.array_dims <= 1


@dataclass(frozen=True, slots=True)
class LiteralPlan:
    """A ``Literal`` alias for the values of one text column (an override's ``values``)."""

    name: str
    column: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EnumPlan:
    name: str
    doc: str
    members: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ModelPlan:
    name: str
    doc: str
    fields: tuple[Value, ...]
    table: Identifier


@dataclass(frozen=True, slots=True)
class RowItem:
    """One field of a query result: a single column, or an embedded model spanning several."""

    value: Value
    position: int
    embed: ModelPlan | None = None


@dataclass(frozen=True, slots=True)
class QueryPlan:
    name: str
    function: str
    constant: str
    cmd: str
    sql: str
    doc: str
    params: tuple[Value, ...]
    params_class: str | None
    """Name of the params struct when parameters exceed ``query_parameter_limit``."""
    result_model: ModelPlan | None = None
    """Set when the columns are exactly a table's: the query returns that model."""
    row_class: str | None = None
    row_items: tuple[RowItem, ...] = ()
    scalar: Value | None = None
    one_row: bool = False
    """A ``:one`` query that always returns a row (aggregates without GROUP BY)."""
    copy_table: Identifier | None = None
    copy_columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModulePlan:
    name: str
    source: str
    queries: tuple[QueryPlan, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    package: str
    sqlc_version: str
    literals: tuple[LiteralPlan, ...]
    enums: tuple[EnumPlan, ...]
    models: tuple[ModelPlan, ...]
    modules: tuple[ModulePlan, ...]
    warnings: tuple[str, ...] = field(default=())


def annotation(value: Value, *, param: bool, in_models: bool = False) -> str:
    """The annotation of ``value`` in a query module, or in the models module."""
    py_type = value.type
    base = py_type.param if param else py_type.base
    dims = value.array_dims
    if py_type.enum:
        if dims > 1:
            base = "str"  # multi-dimensional enum arrays arrive as nested str lists
        elif not in_models:
            base = f"models.{py_type.enum}"
    if py_type.literal and not in_models:
        base = f"models.{py_type.literal}"
    for _ in range(dims):
        base = f"list[{base}]"
    return f"{base} | None" if value.nullable else base


def keyword_order(params: Iterable[Value]) -> list[Value]:
    """Parameters as a signature or a params struct lists them: those with a default last."""
    return sorted(params, key=lambda p: p.nullable)


_NAME_READ = re.compile(r"(?<![.\w])[A-Za-z_]\w*")


def class_fields(names: list[str], annotations: list[str]) -> list[str]:
    """Field names of a class body: a name a later field's annotation reads gets a ``_``.

    In a class body a field named ``int``, ``uuid`` or ``models`` hides that name from
    the annotations (and defaults) of the fields after it.
    """
    fields = []
    for index, name in enumerate(names):
        read = {found for later in annotations[index + 1 :] for found in _NAME_READ.findall(later)}
        fields.append(f"{name}_" if name in read else name)
    return deduplicate(fields)


def _as_fields(
    values: tuple[Value, ...],
    *,
    param: bool,
    in_models: bool = False,
    order: list[Value] | None = None,
) -> tuple[Value, ...]:
    """``values`` named as the fields of a class that declares them in ``order``."""
    order = list(values) if order is None else order
    names = class_fields(
        [v.name for v in order], [annotation(v, param=param, in_models=in_models) for v in order]
    )
    renamed = dict(zip((v.name for v in order), names, strict=True))
    return tuple(replace(v, name=renamed[v.name]) for v in values)


def _doc_from_comments(comments: tuple[str, ...]) -> str:
    # sqlc keeps every comment line; vet and param annotations are not documentation.
    lines = [c[1:] if c.startswith(" ") else c for c in comments]
    kept = [line.rstrip() for line in lines if not line.strip().startswith("@")]
    while kept and not kept[0].strip():
        kept.pop(0)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept)


def _function_names(
    query: Query, result_model: ModelPlan | None, items: tuple[RowItem, ...], scalar: Value | None
) -> frozenset[str]:
    """What the function rendered for ``query`` binds or reads besides its keyword parameters.

    A keyword parameter of that name would shadow it, so it gets a trailing underscore.
    This mirrors ``render._body`` and ``render._result_builder``: ``conn`` is the first
    parameter, ``row``/``rows``/``status``/``value`` are locals, ``models`` and ``int``
    are read. Names bound inside a comprehension (``row`` of ``:many``) shadow nothing.
    """
    names = {"conn"}
    if query.cmd == ":execrows":
        names.update({"status", "int"})
    elif query.cmd == ":one":
        names.add("row")
        if scalar is not None and not scalar.converted:
            names.add("value")
    elif query.cmd == ":many":
        names.add("rows")
    values = [item.value for item in items if item.embed is None]
    if scalar is not None:
        values.append(scalar)
    if (
        result_model is not None
        or any(item.embed is not None for item in items)
        or any(value.converted for value in values)
    ):
        names.add("models")
    return frozenset(names)


class _Planner:
    def __init__(self, request: Request, options: Options):
        self.request = request
        self.options = options
        self.literals = self._literals()
        self.types = TypeMap(
            request.enums,
            options.overrides,
            request.default_schema,
            {literal.column: literal.name for literal in self.literals},
        )
        self.warnings: list[str] = []
        self.models = {self._table_key(t.rel): self._model(t) for t in request.tables}

    def _table_key(self, rel: Identifier) -> tuple[str, str]:
        return (rel.schema or self.request.default_schema, rel.name)

    def _override_column(self, index: int, override: Override) -> tuple[Table, Column]:
        """The table and column a column override names; an error if there is none."""
        assert override.column is not None
        *schema, table_name, column_name = override.column.split(".")
        found = [
            (table, column)
            for table in self.request.tables
            if table.rel.name == table_name
            and (not schema or schema[0] == (table.rel.schema or self.request.default_schema))
            for column in table.columns
            if column.name == column_name
        ]
        where = f"option overrides[{index}].column"
        if not found:
            raise GenerateError(f"{where}: there is no column {override.column}")
        if len(found) > 1:
            raise GenerateError(f"{where}: {override.column} is ambiguous; add the schema")
        return found[0]

    def _literals(self) -> tuple[LiteralPlan, ...]:
        """A Literal alias per ``values`` override; every column override is checked."""
        literals = []
        seen: set[tuple[str, str, str]] = set()
        for index, override in enumerate(self.options.overrides):
            if override.column is None:
                continue
            table, column = self._override_column(index, override)
            key = (*self._table_key(table.rel), column.name)
            if key in seen:
                raise GenerateError(
                    f"option overrides[{index}].column: {override.column} is overridden twice"
                )
            seen.add(key)
            if not override.values:
                continue
            if not is_text(column.type):
                raise GenerateError(
                    f"option overrides[{index}].values: {override.column} is "
                    f"{column.type.name}, values need a text column"
                )
            name = self._model_name(table) + pascal_case(self._field_name(column.name))
            literals.append(LiteralPlan(name, override.column, override.values))
        return tuple(sorted(literals, key=lambda literal: literal.name))

    def _resolve(self, column: Column, where: str) -> PyType:
        py_type = self.types.resolve(column)
        if py_type.unknown:
            self.warnings.append(
                f"{where}: unknown PostgreSQL type {column.type.name!r}, typed as Any "
                "(add an override to type it)"
            )
        return py_type

    def _model_name(self, table: Table) -> str:
        renamed = self.options.renamed(table.rel.name)
        if renamed:
            return renamed
        name = table.rel.name
        if not (
            self.options.emit_exact_table_names
            or name in self.options.inflection_exclude_table_names
        ):
            name = singular(name)
        schema = table.rel.schema or self.request.default_schema
        prefix = "" if schema == self.request.default_schema else pascal_case(schema)
        return prefix + pascal_case(name)

    def _field_name(self, column_name: str) -> str:
        return self.options.renamed(column_name) or safe_identifier(column_name)

    def _model(self, table: Table) -> ModelPlan:
        names = deduplicate([self._field_name(c.name) for c in table.columns])
        fields = tuple(
            Value(
                name=name,
                type=self._resolve(c, f"table {table.rel.name}, column {c.name}"),
                nullable=not c.not_null,
                array_dims=c.array_dims or (1 if c.is_array else 0),
                comment=c.comment,
            )
            for name, c in zip(names, table.columns, strict=True)
        )
        fields = _as_fields(fields, param=False, in_models=True)
        return ModelPlan(self._model_name(table), table.comment, fields, table.rel)

    def enums(self) -> tuple[EnumPlan, ...]:
        plans = []
        for enum in self.request.enums:
            members = deduplicate([enum_member(v) for v in enum.values])
            plans.append(
                EnumPlan(
                    self.types.enum_class(enum),
                    enum.comment,
                    tuple(zip(members, enum.values, strict=True)),
                )
            )
        return tuple(sorted(plans, key=lambda e: e.name))

    def _matching_model(self, query: Query) -> ModelPlan | None:
        """The model whose table's columns the query returns, exactly and in order.

        Columns of a CTE (``WITH message AS (INSERT ... RETURNING *) SELECT * FROM message``)
        name the CTE, not the table: they match a table whose columns are the same, when
        exactly one table does.
        """
        sources = {c.table.name for c in query.columns if c.table is not None}
        if len(sources) != 1 or any(
            c.table is None or c.embed_table is not None for c in query.columns
        ):
            return None
        (source,) = sources
        named = [t for t in self.request.tables if t.rel.name == source]
        candidates = [
            t
            for t in (named or self.request.tables)
            if len(t.columns) == len(query.columns)
            and all(
                qc.name == tc.name
                and qc.type.name == tc.type.name
                and qc.not_null == tc.not_null
                and qc.is_array == tc.is_array
                for qc, tc in zip(query.columns, t.columns, strict=True)
            )
        ]
        if len(candidates) != 1:
            return None
        return self.models[self._table_key(candidates[0].rel)]

    def _params(self, query: Query, reserved: frozenset[str]) -> tuple[Value, ...]:
        params = sorted(query.params, key=lambda p: p.number)
        names: list[str] = []
        for param in params:
            column = param.column
            if column.is_sqlc_slice:
                raise GenerateError(
                    f"query {query.name}: sqlc.slice is not supported for PostgreSQL; "
                    f"write `= ANY(@{column.name or 'values'}::type[])` instead"
                )
            if not column.name:
                raise GenerateError(
                    f"query {query.name}: parameter ${param.number} has no name; "
                    f"name it with sqlc.arg(name) or @name"
                )
            names.append(
                safe_identifier(self.options.renamed(column.name) or column.name, reserved)
            )
        return tuple(
            Value(
                name=name,
                type=self._resolve(p.column, f"query {query.name}, parameter {name}"),
                nullable=not p.column.not_null,
                array_dims=p.column.array_dims or (1 if p.column.is_array else 0),
            )
            for name, p in zip(deduplicate(names), params, strict=True)
        )

    def _row_items(self, query: Query, columns: tuple[Column, ...]) -> tuple[RowItem, ...]:
        items: list[tuple[str, Value, int, ModelPlan | None]] = []
        position = 0
        for index, column in enumerate(columns):
            if column.embed_table is not None:
                model = self.models.get(self._table_key(column.embed_table))
                if model is None:
                    raise GenerateError(
                        f"query {query.name}: unknown embedded table {column.embed_table.name}"
                    )
                value = Value(
                    snake_case(model.name),
                    PyType(f"models.{model.name}", f"models.{model.name}"),
                    False,
                    0,
                )
                items.append((value.name, value, position, model))
                position += len(model.fields)
                continue
            name = self._field_name(column.name) if column.name else f"column_{index + 1}"
            value = Value(
                name=name,
                type=self._resolve(column, f"query {query.name}, column {name}"),
                nullable=not column.not_null,
                array_dims=column.array_dims or (1 if column.is_array else 0),
            )
            items.append((name, value, position, None))
            position += 1
        unique = deduplicate([name for name, *_ in items])
        values = _as_fields(
            tuple(
                Value(name, value.type, value.nullable, value.array_dims)
                for name, (_, value, *_) in zip(unique, items, strict=True)
            ),
            param=False,
        )
        return tuple(
            RowItem(value, position, embed)
            for value, (_, _, position, embed) in zip(values, items, strict=True)
        )

    def query(self, query: Query) -> QueryPlan:
        if query.cmd in _UNSUPPORTED_ADVICE:
            raise GenerateError(
                f"query {query.name}: {query.cmd} is not supported; {_UNSUPPORTED_ADVICE[query.cmd]}"
            )
        if query.cmd not in SUPPORTED_COMMANDS:
            raise GenerateError(f"query {query.name}: unknown command {query.cmd}")
        function = safe_identifier(query.name)
        plan = QueryPlan(
            name=query.name,
            function=function,
            constant=function.upper().rstrip("_"),
            cmd=query.cmd,
            sql=f"-- name: {query.name} {query.cmd}\n{query.text}",
            doc=_doc_from_comments(query.comments),
            params=(),
            params_class=None,
        )
        if query.cmd == ":copyfrom":
            table = query.insert_into_table
            if table is None:
                raise GenerateError(f"query {query.name}: :copyfrom needs an INSERT INTO statement")
            # Parameters are fields of a NamedTuple of records: no name of the function's.
            return replace(
                plan,
                params=_as_fields(self._params(query, frozenset()), param=True),
                params_class=f"{pascal_case(query.name)}Params",
                copy_table=Identifier("", table.schema or self.request.default_schema, table.name),
                copy_columns=tuple(
                    p.column.name for p in sorted(query.params, key=lambda p: p.number)
                ),
            )
        if query.cmd in (":one", ":many"):
            plan = self._result(query, plan)
        if len(query.params) > self.options.query_parameter_limit:
            # Parameters are fields of a params struct, read as ``params.name``.
            params = self._params(query, frozenset())
            return replace(
                plan,
                params=_as_fields(params, param=True, order=keyword_order(params)),
                params_class=f"{pascal_case(query.name)}Params",
            )
        taken = _function_names(query, plan.result_model, plan.row_items, plan.scalar)
        return replace(plan, params=self._params(query, taken))

    def _result(self, query: Query, plan: QueryPlan) -> QueryPlan:
        """The result shape of a ``:one`` or ``:many`` query."""
        if not query.columns:
            raise GenerateError(
                f"query {query.name}: {query.cmd} needs a statement that returns rows"
            )
        model = self._matching_model(query)
        if model is not None:
            return replace(plan, result_model=model)
        analysis = analyse(query.text, len(query.columns))
        columns = query.columns
        if analysis.nullable is not None:
            # sqlc reports every function call NOT NULL; aggregates but count() are not.
            columns = tuple(
                column if nullable is None else replace(column, not_null=not nullable)
                for column, nullable in zip(columns, analysis.nullable, strict=True)
            )
        plan = replace(plan, one_row=query.cmd == ":one" and analysis.one_row)
        items = self._row_items(query, columns)
        if len(items) == 1 and items[0].embed is None:
            return replace(plan, scalar=items[0].value)
        return replace(plan, row_class=f"{pascal_case(query.name)}Row", row_items=items)


def _used_names(modules: tuple[ModulePlan, ...]) -> set[str]:
    used: set[str] = set()

    def add(value: Value) -> None:
        for name in (value.type.enum, value.type.literal):
            if name:
                used.add(name)

    for module in modules:
        for query in module.queries:
            for param in query.params:
                add(param)
            if query.scalar:
                add(query.scalar)
            models = [item.embed for item in query.row_items if item.embed]
            if query.result_model:
                models.append(query.result_model)
            for item in query.row_items:
                add(item.value)
            for model in models:
                used.add(model.name)
                for value in model.fields:
                    add(value)
    return used


def build_plan(request: Request, options: Options) -> Plan:
    """Decide everything about the output; raise GenerateError on what cannot be generated."""
    if request.engine != "postgresql":
        raise GenerateError(
            f"engine {request.engine or '(none)'} is not supported: this plugin emits asyncpg "
            "code for PostgreSQL only; set `engine: postgresql`"
        )
    planner = _Planner(request, options)
    by_file: dict[str, list[QueryPlan]] = {}
    for query in request.queries:
        by_file.setdefault(query.filename, []).append(planner.query(query))
    modules = []
    for filename, queries in sorted(by_file.items()):
        module = safe_identifier(PurePosixPath(filename).stem)
        if module in GENERATED_MODULES:
            raise GenerateError(
                f"query file {filename}: it would become {module}.py, which the plugin writes "
                f"itself; rename the file (for example to {module}_queries.sql)"
            )
        functions = [q.function for q in queries]
        duplicate = sorted({f for f in functions if functions.count(f) > 1})
        if duplicate:
            raise GenerateError(
                f"query file {filename}: duplicate query name(s) {', '.join(duplicate)}"
            )
        modules.append(
            ModulePlan(module, filename, tuple(sorted(queries, key=lambda q: q.function)))
        )
    module_names = [m.name for m in modules]
    if len(set(module_names)) != len(module_names):
        raise GenerateError("two query files map to the same module name; rename one")
    enums = planner.enums()
    literals = planner.literals
    models = tuple(sorted(planner.models.values(), key=lambda m: m.name))
    if options.omit_unused_models:
        used = _used_names(tuple(modules))
        models = tuple(m for m in models if m.name in used)
        for model in models:
            used.update(v.type.enum for v in model.fields if v.type.enum)
            used.update(v.type.literal for v in model.fields if v.type.literal)
        enums = tuple(e for e in enums if e.name in used)
        literals = tuple(literal for literal in literals if literal.name in used)
    names = [m.name for m in models] + [e.name for e in enums] + [x.name for x in literals]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise GenerateError(
            f"model name(s) {', '.join(clash)} used twice; set `rename` for one of the tables"
        )
    return Plan(
        package=options.package,
        sqlc_version=request.sqlc_version,
        literals=literals,
        enums=enums,
        models=models,
        modules=tuple(modules),
        warnings=tuple(dict.fromkeys(planner.warnings)),
    )
