"""The process shell around generate(): JSON request on stdin, JSON response on stdout."""

from __future__ import annotations

import base64
import json
import sys

from .errors import GenerateError
from .generate import generate


def main() -> int:
    try:
        request = json.load(sys.stdin.buffer)
        result = generate(request)
    except GenerateError as error:
        print(f"sqlc-gen-asyncpg: {error}", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(f"sqlc-gen-asyncpg: warning: {warning}", file=sys.stderr)
    response = {
        "files": [
            {"name": name, "contents": base64.b64encode(text.encode()).decode("ascii")}
            for name, text in result.files.items()
        ]
    }
    sys.stdout.write(json.dumps(response))
    return 0


if __name__ == "__main__":
    sys.exit(main())
