"""The part of sqlc's plugin request (GenerateRequest, JSON form) this plugin reads."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Identifier:
    catalog: str
    schema: str
    name: str

    @staticmethod
    def parse(raw: dict[str, Any] | None) -> Identifier | None:
        if not raw:
            return None
        return Identifier(raw.get("catalog") or "", raw.get("schema") or "", raw.get("name") or "")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    not_null: bool
    is_array: bool
    array_dims: int
    comment: str
    table: Identifier | None
    type: Identifier
    is_sqlc_slice: bool
    embed_table: Identifier | None
    is_named_param: bool

    @staticmethod
    def parse(raw: dict[str, Any]) -> Column:
        return Column(
            name=raw.get("name") or "",
            not_null=bool(raw.get("not_null")),
            is_array=bool(raw.get("is_array")),
            array_dims=int(raw.get("array_dims") or 0),
            comment=raw.get("comment") or "",
            table=Identifier.parse(raw.get("table")),
            type=Identifier.parse(raw.get("type")) or Identifier("", "", ""),
            is_sqlc_slice=bool(raw.get("is_sqlc_slice")),
            embed_table=Identifier.parse(raw.get("embed_table")),
            is_named_param=bool(raw.get("is_named_param")),
        )


@dataclass(frozen=True, slots=True)
class Parameter:
    number: int
    column: Column


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    name: str
    cmd: str
    columns: tuple[Column, ...]
    params: tuple[Parameter, ...]
    comments: tuple[str, ...]
    filename: str
    insert_into_table: Identifier | None


@dataclass(frozen=True, slots=True)
class Table:
    rel: Identifier
    columns: tuple[Column, ...]
    comment: str


@dataclass(frozen=True, slots=True)
class Enum:
    schema: str
    name: str
    values: tuple[str, ...]
    comment: str


@dataclass(frozen=True, slots=True)
class Request:
    engine: str
    sqlc_version: str
    default_schema: str
    tables: tuple[Table, ...]
    enums: tuple[Enum, ...]
    queries: tuple[Query, ...]
    options: dict[str, Any]


# sqlc puts its built-in catalogs into every request; nothing in them is ours to model.
SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_temp"})


def _decode_options(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    decoded = json.loads(base64.b64decode(raw))
    if decoded is None:
        return {}
    if not isinstance(decoded, dict):
        raise ValueError("plugin options must be a mapping")
    return decoded


def parse_request(raw: dict[str, Any]) -> Request:
    """Turn the decoded JSON request into typed records, dropping system schemas."""
    catalog = raw.get("catalog") or {}
    default_schema = catalog.get("default_schema") or "public"
    tables: list[Table] = []
    enums: list[Enum] = []
    for schema in catalog.get("schemas") or []:
        schema_name = schema.get("name") or default_schema
        if schema_name in SYSTEM_SCHEMAS:
            continue
        for table in schema.get("tables") or []:
            rel = Identifier.parse(table.get("rel")) or Identifier("", "", "")
            rel = Identifier(rel.catalog, rel.schema or schema_name, rel.name)
            tables.append(
                Table(
                    rel=rel,
                    columns=tuple(Column.parse(c) for c in table.get("columns") or []),
                    comment=table.get("comment") or "",
                )
            )
        for enum in schema.get("enums") or []:
            enums.append(
                Enum(
                    schema=schema_name,
                    name=enum.get("name") or "",
                    values=tuple(enum.get("vals") or []),
                    comment=enum.get("comment") or "",
                )
            )
    queries = tuple(
        Query(
            text=q.get("text") or "",
            name=q.get("name") or "",
            cmd=q.get("cmd") or "",
            columns=tuple(Column.parse(c) for c in q.get("columns") or []),
            params=tuple(
                Parameter(
                    number=int(p.get("number") or 0), column=Column.parse(p.get("column") or {})
                )
                for p in q.get("params") or []
            ),
            comments=tuple(q.get("comments") or []),
            filename=q.get("filename") or "",
            insert_into_table=Identifier.parse(q.get("insert_into_table")),
        )
        for q in raw.get("queries") or []
    )
    settings = raw.get("settings") or {}
    return Request(
        engine=settings.get("engine") or "",
        sqlc_version=raw.get("sqlc_version") or "",
        default_schema=default_schema,
        tables=tuple(tables),
        enums=tuple(enums),
        queries=queries,
        options=_decode_options(raw.get("plugin_options")),
    )
