"""The process shell around generate(): JSON request on stdin, JSON response on stdout."""

from __future__ import annotations

import base64
import json
import sys
from typing import BinaryIO, TextIO

from .errors import GenerateError
from .generate import generate


def main(
    stdin: BinaryIO | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Answer one sqlc request; the streams default to the process's (tests pass their own)."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        request = json.load(stdin)
        result = generate(request)
    except GenerateError as error:
        print(f"sqlc-gen-asyncpg: {error}", file=stderr)
        return 1
    for warning in result.warnings:
        print(f"sqlc-gen-asyncpg: warning: {warning}", file=stderr)
    response = {
        "files": [
            {"name": name, "contents": base64.b64encode(text.encode()).decode("ascii")}
            for name, text in result.files.items()
        ]
    }
    stdout.write(json.dumps(response))
    return 0


if __name__ == "__main__":
    sys.exit(main())
