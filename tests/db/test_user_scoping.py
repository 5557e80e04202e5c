"""Every generated query over user-owned tables takes ``user_id``, bar documented exceptions."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import typing
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import generated

USER_OWNED_TABLES = {
    "users",
    "user_credentials",
    "chat_sessions",
    "chat_messages",
    "chat_message_search",
    "message_citations",
    "message_feedback",
    "documents",
    "document_chunks",
    "document_sources",
    "audit_log",
}

# Exact function names, each with the reason it cannot be scoped to a user.
ALLOWED_WITHOUT_USER_ID = {
    # Authentication: the token is how the user is found.
    "authenticate_credential",
    # Users are created before they have an id to pass.
    "create_anonymous_user",
    "create_user",
    # Bulk import creates the users it names: each record carries its own id.
    "copy_users",
    # The ingestion worker serves every owner; the document's owner is in the row.
    "claim_document_for_worker",
    "mark_document_processing_for_worker",
    "mark_document_completed_for_worker",
    "mark_document_failed_for_worker",
    "delete_document_chunks_for_worker",
    "get_document_source_for_worker",
    "get_document_for_worker",
    "fail_abandoned_documents_for_worker",
    "fail_abandoned_assistant_messages_for_worker",
    # Reindex rebuilds every owner's documents; queued-ingestion progress is read by id.
    "list_completed_documents_for_worker",
    "count_stale_documents_for_worker",
    "reindex_document_for_worker",
    "list_document_statuses_for_worker",
    # Chunks get their owner from their document, by trigger; called by the worker.
    "copy_document_chunks",
    # The shared corpus belongs to no user.
    "list_shared_documents",
    # Retention runs across all users, by age.
    "purge_expired_credentials_retention",
    "count_inactive_sessions_retention",
    "list_inactive_sessions_retention",
    "purge_inactive_sessions_retention",
    "count_expired_credentials_retention",
    "purge_expired_credentials_batch_retention",
    "count_completed_document_contents_retention",
    "purge_completed_document_contents_retention",
    # The audit log names an actor (maybe none), not an owner, and outlives users.
    "create_audit_entry",
    "list_audit_entries",
}

TABLE_REFERENCE = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE)\s+([a-z_][a-z0-9_]*)", re.IGNORECASE)


def query_functions() -> Iterator[tuple[str, Callable[..., Any], str]]:
    """(name, function, SQL) of every generated query function, module by module."""
    for info in pkgutil.iter_modules(generated.__path__):
        if info.name in ("db", "models"):
            continue
        module: ModuleType = importlib.import_module(f"generated.{info.name}")
        for name in module.__all__:
            function = getattr(module, name)
            if inspect.iscoroutinefunction(function):
                yield name, function, getattr(module, name.upper())


def parameter_names(function: Callable[..., Any]) -> set[str]:
    """Keyword parameters, plus the fields of a Params struct or of :copyfrom records."""
    names = set()
    for parameter in list(inspect.signature(function).parameters.values())[1:]:
        names.add(parameter.name)
        annotation = parameter.annotation
        for candidate in (annotation, *typing.get_args(annotation)):
            names.update(getattr(candidate, "__struct_fields__", ()))
            names.update(getattr(candidate, "_fields", ()))
    return names


def test_every_query_over_user_owned_tables_takes_user_id() -> None:
    unscoped = sorted(
        name
        for name, function, sql in query_functions()
        if USER_OWNED_TABLES & {table.lower() for table in TABLE_REFERENCE.findall(sql)}
        and "user_id" not in parameter_names(function)
        and name not in ALLOWED_WITHOUT_USER_ID
    )
    assert unscoped == []


def test_every_allowed_exception_exists_and_really_has_no_user_id() -> None:
    functions = {name: function for name, function, _ in query_functions()}
    assert len(functions) > 40
    assert {"append_chat_turn", "list_sessions", "copy_message_citations"} <= set(functions)
    for name in sorted(ALLOWED_WITHOUT_USER_ID):
        assert name in functions, f"{name} is allowed but not generated any more"
        assert "user_id" not in parameter_names(functions[name]), f"{name} takes user_id now"


def test_params_structs_and_copyfrom_records_count_as_taking_user_id() -> None:
    functions = {name: function for name, function, _ in query_functions()}
    # CompleteAssistantMessageParams
    assert "user_id" in parameter_names(functions["complete_assistant_message"])
    assert "user_id" in parameter_names(functions["copy_message_citations"])  # records
    assert "user_id" not in parameter_names(functions["copy_document_chunks"])
