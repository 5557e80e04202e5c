"""The pure core of the plugin: a decoded request in, files and warnings out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .options import parse_options
from .plan import build_plan
from .render import render
from .request import parse_request


@dataclass(frozen=True, slots=True)
class Result:
    files: dict[str, str]
    warnings: tuple[str, ...]


def generate(raw_request: dict[str, Any]) -> Result:
    """Generate the package for one sqlc ``codegen`` entry; raises GenerateError."""
    request = parse_request(raw_request)
    options = parse_options(request.options)
    plan = build_plan(request, options)
    return Result(files=render(plan), warnings=plan.warnings)
