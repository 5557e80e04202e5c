"""Store fixtures and helpers: an asyncpg pool over this test's own database, audit rows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from generated import audit, models
from service import store


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[store.Pool]:
    """A pool of up to 10 connections to this test's database, set up as the app's are."""
    async with asyncpg.create_pool(
        database_url, min_size=1, max_size=10, init=store.init_connection
    ) as pool:
        yield pool


async def audit_entries(pool: store.Pool, action: str) -> list[models.AuditLog]:
    """The audit rows of one action, oldest first."""
    return await audit.list_audit_entries(pool, after_id=0, limit=1000, action=action)
