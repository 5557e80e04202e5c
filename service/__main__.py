"""``python -m service serve``: serve the API with uvicorn (make run prepares the database)."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from .app import create_app
from .logs import configure_logging
from .settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", help="overrides HOST")
    serve.add_argument("--port", type=int, help="overrides PORT")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    host = args.host or settings.host
    port = args.port or settings.port
    print(f"Serving on http://{host}:{port}  (API description: /openapi.json)", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
