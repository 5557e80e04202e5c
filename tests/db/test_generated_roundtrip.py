"""Every command and every mapped type, through generated code, against real PostgreSQL.

The code under test is generated at session start from tests/db/roundtrip/ by the real
sqlc binary and the project's plugin, so this checks the whole pipeline.
"""

from __future__ import annotations

import datetime
import importlib
import ipaddress
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import pytest

from tools import venv_tool

ROOT = Path(__file__).resolve().parents[2]
CASE = Path(__file__).resolve().parent / "roundtrip"

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="session")
def rtgen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The package generated from roundtrip/, importable as ``rtgen``: once, for every server."""
    work = tmp_path_factory.mktemp("roundtrip")
    for name in ("schema.sql", "queries.sql", "sqlc.yaml"):
        shutil.copy(CASE / name, work / name)
    (work / "codegen").symlink_to(ROOT / "codegen")
    subprocess.run([venv_tool("sqlc"), "generate"], cwd=work, check=True, capture_output=True)
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module("rtgen")
    finally:
        sys.path.remove(str(work))
        for name in [m for m in sys.modules if m == "rtgen" or m.startswith("rtgen.")]:
            del sys.modules[name]


@pytest.fixture
async def conn(database_url: str, rtgen: ModuleType) -> AsyncIterator[asyncpg.Connection[Any]]:
    """A fresh connection to this test's database, holding the round-trip schema."""
    db = importlib.import_module("rtgen.db")
    schema = (CASE / "schema.sql").read_text()
    conn: asyncpg.Connection[Any] = await asyncpg.connect(database_url)
    try:
        await db.init_connection(conn)
        await conn.execute(schema)
        yield conn
    finally:
        await conn.close()


def full_values(label: str) -> Any:
    queries = importlib.import_module("rtgen.queries")
    models = importlib.import_module("rtgen.models")
    return queries.CreateValueParams(
        label=label,
        small_value=-32768,
        int_value=2_147_483_647,
        big_value=-9_223_372_036_854_775_808,
        numeric_value=Decimal("12345678901234567890.123456789"),
        real_value=1.5,
        double_value=-2.25e300,
        bool_value=False,
        varchar_value="Grüße, 世界 🌍",
        char_value="ab",
        citext_value="MiXeD",
        uuid_value=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        bytea_value=bytes(range(256)),
        date_value=datetime.date(1999, 12, 31),
        time_value=datetime.time(23, 59, 58, 999999),
        timestamp_value=datetime.datetime(2000, 1, 1, 12, 0),
        timestamptz_value=datetime.datetime(2026, 11, 22, 9, 30, tzinfo=datetime.UTC),
        interval_value=datetime.timedelta(days=3, seconds=7, microseconds=11),
        json_value={"nested": {"list": [1, 2.5, None, True]}, "text": "ünï"},
        jsonb_value=[{"a": 1}, "b", 3],
        inet_value=ipaddress.ip_interface("192.168.1.10/24"),
        cidr_value=ipaddress.ip_network("2001:db8::/32"),
        mood=models.RtMood.IN_BETWEEN,
        moods=[models.RtMood.HAPPY, models.RtMood.SAD],
        int_array=[1, 2, 3],
        text_array=["x", "", "ÿ"],
        uuid_array=[uuid.UUID(int=1), uuid.UUID(int=2)],
    )


async def test_one_returns_the_table_model_with_every_type_intact(
    conn: asyncpg.Connection[Any],
) -> None:
    queries = importlib.import_module("rtgen.queries")
    models = importlib.import_module("rtgen.models")
    params = full_values("full")

    created = await queries.create_value(conn, params)
    fetched = await queries.get_value(conn, id=created.id)

    assert isinstance(created, models.RtValue)
    assert created == fetched
    for name in params.__struct_fields__:
        expected = getattr(params, name)
        actual = getattr(fetched, name)
        if name == "char_value":
            expected = expected.ljust(3)  # char(n) pads with spaces
        assert actual == expected, name
    assert type(fetched.mood) is models.RtMood
    assert all(type(m) is models.RtMood for m in fetched.moods)


async def test_nulls_round_trip_as_none(conn: asyncpg.Connection[Any]) -> None:
    queries = importlib.import_module("rtgen.queries")

    created = await queries.create_value(conn, queries.CreateValueParams(label="nulls"))
    fetched = await queries.get_value(conn, id=created.id)

    nullable = [n for n in fetched.__struct_fields__ if n not in ("id", "label")]
    assert all(getattr(fetched, n) is None for n in nullable)


async def test_one_returns_none_when_no_row_and_scalars_come_back_plain(
    conn: asyncpg.Connection[Any],
) -> None:
    queries = importlib.import_module("rtgen.queries")
    models = importlib.import_module("rtgen.models")
    created = await queries.create_value(conn, full_values("scalar"))

    missing = await queries.get_value(conn, id=-1)
    label = await queries.get_value_label(conn, id=created.id)
    missing_label = await queries.get_value_label(conn, id=-1)
    mood = await queries.get_value_mood(conn, id=created.id)

    assert missing is None
    assert label == "scalar"
    assert missing_label is None
    assert mood is models.RtMood.IN_BETWEEN


async def test_many_returns_rows_scalars_and_empty_lists(conn: asyncpg.Connection[Any]) -> None:
    queries = importlib.import_module("rtgen.queries")
    for label in ("a-1", "a-2", "b-1"):
        await queries.create_value(conn, full_values(label))

    summaries = await queries.list_value_summaries(conn, prefix="a-")
    empty = await queries.list_value_summaries(conn, prefix="zzz")
    labels = await queries.list_labels(conn)

    assert [s.label for s in summaries] == ["a-1", "a-2"]
    assert type(summaries[0]).__name__ == "ListValueSummariesRow"
    assert summaries[0].jsonb_value == [{"a": 1}, "b", 3]
    assert empty == []
    assert labels == ["a-1", "a-2", "b-1"]


async def test_narg_parameters_are_optional_filters(conn: asyncpg.Connection[Any]) -> None:
    queries = importlib.import_module("rtgen.queries")
    models = importlib.import_module("rtgen.models")
    await queries.create_value(conn, full_values("mood"))
    await queries.create_value(conn, queries.CreateValueParams(label="plain", int_value=5))

    everything = await queries.find_values(conn)
    by_mood = await queries.find_values(conn, mood=models.RtMood.IN_BETWEEN)
    by_int = await queries.find_values(conn, min_int=6)
    none = await queries.find_values(conn, mood=models.RtMood.SAD)

    assert [v.label for v in everything] == ["mood", "plain"]
    assert [v.label for v in by_mood] == ["mood"]
    assert [v.label for v in by_int] == ["mood"]
    assert none == []


async def test_exec_execrows_and_execresult(conn: asyncpg.Connection[Any]) -> None:
    queries = importlib.import_module("rtgen.queries")

    created = await queries.create_value(conn, queries.CreateValueParams(label="old"))
    renamed = await queries.rename_value(conn, label="new", id=created.id)
    label = await queries.get_value_label(conn, id=created.id)
    await queries.create_value(conn, queries.CreateValueParams(label="new"))
    status = await queries.touch_all(conn)
    deleted = await queries.delete_values_by_label(conn, label="new")
    nothing = await queries.delete_values_by_label(conn, label="new")

    assert renamed is None
    assert label == "new"
    assert status == "UPDATE 2"
    assert deleted == 2
    assert nothing == 0


async def test_copyfrom_bulk_loads_and_embed_nests_models(conn: asyncpg.Connection[Any]) -> None:
    queries = importlib.import_module("rtgen.queries")
    models = importlib.import_module("rtgen.models")
    big_text = "ß" * 1_000_000
    value = await queries.create_value(conn, full_values("parent"))
    records = [queries.CopyNotesParams(value.id, f"note {i} ✓") for i in range(1000)]
    records.append(queries.CopyNotesParams(value.id, big_text))

    copied = await queries.copy_notes(conn, records)
    nested = await queries.list_notes_with_value(conn)

    assert copied == 1001
    assert len(nested) == 1001
    first = nested[0]
    assert isinstance(first.rt_note, models.RtNote)
    assert first.rt_note.body == "note 0 ✓"
    assert first.rt_value == value
    assert nested[-1].rt_note.body == big_text
