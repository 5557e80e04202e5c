"""Direct tests of the plugin's pure helpers: identifier conversions and option validation."""

from __future__ import annotations

from typing import Any

import pytest

from codegen.errors import GenerateError
from codegen.naming import (
    deduplicate,
    enum_member,
    pascal_case,
    safe_identifier,
    singular,
    snake_case,
)
from codegen.options import Options, Override, parse_options
from codegen.plan import class_fields


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("GetAuthor", "get_author"),
        ("GetAuthorByID", "get_author_by_id"),
        ("ListHTTPRequests", "list_http_requests"),
        ("displayName", "display_name"),
        ("user-name", "user_name"),
        ("e-mail address", "e_mail_address"),
        ("already_snake", "already_snake"),
        ("__private__", "private"),
        ("Version2Beta", "version2_beta"),
        ("?column?", "column"),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("authors", "author"),
        ("chat_messages", "chat_message"),
        ("categories", "category"),
        ("addresses", "address"),
        ("boxes", "box"),
        ("matches", "match"),
        ("people", "person"),
        ("user_statuses", "user_status"),
        ("status", "status"),
        ("metadata", "metadata"),
        ("news", "news"),
        ("analysis", "analysis"),
        ("campus", "campus"),
        ("access", "access"),
        ("user", "user"),
        ("s", "s"),
    ],
)
def test_singular_of_the_last_word_of_a_table_name(table: str, expected: str) -> None:
    assert singular(table) == expected


def test_pascal_case_and_safe_identifiers() -> None:
    assert pascal_case("chat_messages") == "ChatMessages"
    assert pascal_case("displayName") == "DisplayName"
    assert safe_identifier("class") == "class_"
    assert safe_identifier("from") == "from_"
    assert safe_identifier("2fa") == "_2fa"
    assert safe_identifier("row", frozenset({"row"})) == "row_"
    assert safe_identifier("") == "column"


@pytest.mark.parametrize("name", ["match", "case", "type", "status", "id", "value", "row"])
def test_soft_keywords_and_ordinary_words_keep_their_name(name: str) -> None:
    assert safe_identifier(name) == name


def test_a_class_field_is_renamed_only_when_a_later_annotation_reads_its_name() -> None:
    names = ["int", "uuid", "models", "status", "amount"]
    annotations = ["int", "uuid.UUID", "str", "models.Status", "int | None"]

    assert class_fields(names, annotations) == ["int_", "uuid", "models_", "status", "amount"]


def test_enum_members_and_duplicates() -> None:
    assert enum_member("in-progress") == "IN_PROGRESS"
    assert enum_member("2fa") == "V_2FA"
    assert enum_member("") == "EMPTY"
    assert deduplicate(["id", "name", "id", "id"]) == ["id", "name", "id_2", "id_3"]
    assert deduplicate(["id", "id_2", "id"]) == ["id", "id_2", "id_3"]


def test_no_options_means_the_documented_defaults() -> None:
    assert parse_options({}) == Options(
        package="generated",
        query_parameter_limit=4,
        emit_exact_table_names=False,
        inflection_exclude_table_names=frozenset(),
        omit_unused_models=False,
        rename=(),
        overrides=(),
    )


def test_every_option_is_read() -> None:
    options = parse_options(
        {
            "package": "chat.client",
            "query_parameter_limit": 0,
            "emit_exact_table_names": True,
            "inflection_exclude_table_names": ["news_items"],
            "omit_unused_models": True,
            "rename": {"authors": "Writer", "bio": "biography"},
            "overrides": [
                {"db_type": "UUID", "py_type": "myapp.ids.UserId"},
                {"column": "authors.bio", "py_type": "str"},
                {"column": "public.authors.kind", "values": ["person", "group"]},
            ],
        }
    )

    assert options.package == "chat.client"
    assert options.query_parameter_limit == 0
    assert options.emit_exact_table_names
    assert options.inflection_exclude_table_names == frozenset({"news_items"})
    assert options.omit_unused_models
    assert options.renamed("authors") == "Writer"
    assert options.renamed("books") is None
    assert options.overrides == (
        Override(db_type="uuid", column=None, py_type="myapp.ids.UserId"),
        Override(db_type=None, column="authors.bio", py_type="str"),
        Override(
            db_type=None, column="public.authors.kind", py_type=None, values=("person", "group")
        ),
    )
    assert options.overrides[0].module == "myapp.ids"
    assert options.overrides[1].module is None
    assert options.overrides[2].module is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"emit_json_tags": True}, "unknown option(s): emit_json_tags (known: "),
        ({"package": 3}, "option package must be a string, got 3 (an integer)"),
        ({"package": "my-client"}, "option package: 'my-client' is not a Python package name"),
        (
            {"query_parameter_limit": "4"},
            "option query_parameter_limit must be an integer, got '4' (a string)",
        ),
        (
            {"query_parameter_limit": True},
            "option query_parameter_limit must be an integer, got True (true or false)",
        ),
        ({"query_parameter_limit": -1}, "option query_parameter_limit must be 0 or more"),
        (
            {"emit_exact_table_names": "yes"},
            "option emit_exact_table_names must be true or false, got 'yes' (a string)",
        ),
        (
            {"omit_unused_models": 1},
            "option omit_unused_models must be true or false, got 1 (an integer)",
        ),
        (
            {"inflection_exclude_table_names": "users"},
            "option inflection_exclude_table_names must be a list, got 'users' (a string)",
        ),
        (
            {"inflection_exclude_table_names": [1]},
            "option inflection_exclude_table_names[] must be a string, got 1 (an integer)",
        ),
        ({"rename": ["a"]}, "option rename must be a mapping, got ['a'] (a list)"),
        ({"rename": {"bio": 2}}, "option rename.bio must be a string, got 2 (an integer)"),
        (
            {"rename": {"bio": "bio text"}},
            "option rename.bio: 'bio text' is not a Python identifier",
        ),
        ({"rename": {"kind": "class"}}, "option rename.kind: 'class' is not a Python identifier"),
        ({"overrides": {"db_type": "uuid"}}, "option overrides must be a list"),
        ({"overrides": ["uuid"]}, "option overrides[0] must be a mapping, got 'uuid' (a string)"),
        (
            {"overrides": [{"db_type": "uuid", "go_type": "x", "py_type": "str"}]},
            "option overrides[0]: unknown key(s) go_type (known: column, db_type, py_type, values)",
        ),
        (
            {"overrides": [{"py_type": "str"}]},
            "option overrides[0]: set exactly one of db_type or column",
        ),
        (
            {"overrides": [{"db_type": "uuid", "column": "a.b", "py_type": "str"}]},
            "option overrides[0]: set exactly one of db_type or column",
        ),
        (
            {"overrides": [{"db_type": "uuid"}]},
            "option overrides[0].py_type must be a string, got None",
        ),
        (
            {"overrides": [{"db_type": "uuid", "py_type": "list[str]"}]},
            "option overrides[0].py_type: 'list[str]' is not a dotted Python name",
        ),
        (
            {"overrides": [{"column": "bio", "py_type": "str"}]},
            "option overrides[0].column: write table.column or schema.table.column",
        ),
        (
            {"overrides": [{"column": "a.b", "values": ["x"], "valus": ["y"]}]},
            "option overrides[0]: unknown key(s) valus (known: column, db_type, py_type, values)",
        ),
        (
            {"overrides": [{"column": "a.b", "values": []}]},
            "option overrides[0].values: list at least one value",
        ),
        (
            {"overrides": [{"column": "a.b", "values": "open"}]},
            "option overrides[0].values must be a list, got 'open' (a string)",
        ),
        (
            {"overrides": [{"column": "a.b", "values": ["open", True]}]},
            "option overrides[0].values[1] must be a string, got True (true or false)",
        ),
        (
            {"overrides": [{"column": "a.b", "values": ["open", "shut", "open"]}]},
            "option overrides[0].values: 'open' listed twice",
        ),
        (
            {"overrides": [{"column": "a.b", "values": ["open"], "py_type": "str"}]},
            "option overrides[0]: set either py_type or values, not both",
        ),
        (
            {"overrides": [{"db_type": "text", "values": ["open"]}]},
            "option overrides[0].values: values need a column, not a db_type",
        ),
    ],
)
def test_invalid_options_are_rejected_with_what_to_write(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(GenerateError) as raised:
        parse_options(raw)

    assert message in str(raised.value)
