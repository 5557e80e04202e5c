"""``python -m service serve | ingest PATH_OR_URL... | reindex | retention | eval``: the
command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path

from .logs import configure_logging
from .settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", help="overrides HOST")
    serve.add_argument("--port", type=int, help="overrides PORT")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (more than 1 needs QDRANT_URL)"
    )
    add = commands.add_parser("ingest", help="ingest files, directories and URLs")
    add.add_argument("sources", nargs="+", metavar="PATH_OR_URL")
    add.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="in directories, only files whose name matches (repeatable), e.g. '*.html'",
    )
    owner = add.add_mutually_exclusive_group(required=True)
    owner.add_argument("--shared", action="store_true", help="into the shared corpus")
    owner.add_argument("--user", type=uuid.UUID, help="as this user's private documents")
    rebuild = commands.add_parser(
        "reindex", help="rebuild every document's chunks and vectors into a new collection"
    )
    rebuild.add_argument(
        "--if-stale",
        action="store_true",
        help="only when some document's vectors were made another way or kept elsewhere",
    )
    purge = commands.add_parser(
        "retention",
        help="purge (or list, with --dry-run) sessions inactive for more than N days, expired "
        "credentials and, with RETENTION_DROP_DOCUMENT_CONTENT, completed documents' contents",
    )
    purge.add_argument("--inactive-days", type=int, required=True, metavar="N")
    purge.add_argument("--dry-run", action="store_true", help="list and count, delete nothing")
    check = commands.add_parser("eval", help="recall@3 and MRR of retrieval on the eval set")
    check.add_argument("--questions", type=Path, default=ROOT / "eval" / "questions.json")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    if args.command == "retention" and args.inactive_days < 1:
        print("--inactive-days must be at least 1", file=sys.stderr)
        return 2
    if args.command == "serve" and args.workers < 1:
        print("--workers must be at least 1", file=sys.stderr)
        return 2
    if args.command == "serve" and args.workers > 1 and settings.qdrant_url is None:
        print(
            "configuration error: the embedded Qdrant (QDRANT_PATH) admits one process; "
            "set QDRANT_URL to serve from several workers",
            file=sys.stderr,
        )
        return 2
    configure_logging(settings.log_level if args.command == "serve" else "WARNING")
    # The service is imported once the settings are known good: its modules take seconds to
    # import (qdrant-client), and --help or a configuration error answers at once.
    from asyncpg import UndefinedColumnError, UndefinedTableError

    from .connections import DatabaseUnavailable
    from .rag.edge import EngineBusy
    from .rag.vectors import LayoutMismatch
    from .serving import CannotListen

    try:
        return _run(args, settings)
    except SettingsError as error:  # found once in use: DATABASE_URL unset or unusable
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    except (EngineBusy, LayoutMismatch) as error:
        hint = " (stop the service first)" if args.command == "reindex" else ""
        print(f"error: {error}{hint}", file=sys.stderr)
        return 2
    except (DatabaseUnavailable, CannotListen) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (UndefinedTableError, UndefinedColumnError) as error:
        print(
            f"error: the database's schema is missing or old ({error}); apply the migrations: "
            "make migrate (dbmate up) with the same DATABASE_URL",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:  # Ctrl-C: uvicorn re-raises it once it has shut down cleanly
        return 130


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from . import serving
    from .cli import evaluate, ingest, load_questions, preflight, reindex, retention

    if args.command == "ingest":
        failed = asyncio.run(ingest(settings, args.sources, owner=args.user, include=args.include))
        return 1 if failed else 0
    if args.command == "reindex":
        return 1 if asyncio.run(reindex(settings, if_stale=args.if_stale)) else 0
    if args.command == "retention":
        asyncio.run(retention(settings, inactive_days=args.inactive_days, dry_run=args.dry_run))
        return 0
    if args.command == "eval":
        asyncio.run(evaluate(settings, load_questions(args.questions)))
        return 0
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    # The address first: a busy port is told at once, and nothing is announced before it is
    # held (connections made meanwhile wait in the backlog until the app has started).
    sock = serving.bind(host, port)
    try:
        asyncio.run(preflight(settings))  # one clear line instead of a failed startup
    except BaseException:
        sock.close()
        raise
    port = sock.getsockname()[1]  # the one chosen, for --port 0
    where = f"[{host}]" if ":" in host else host
    print(f"Serving on http://{where}:{port}  (API description: /openapi.json)", flush=True)
    serving.run("service.serving:worker_app", host=host, port=port, workers=args.workers, sock=sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
