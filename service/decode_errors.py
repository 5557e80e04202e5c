"""Reading msgspec's validation errors: which field is wrong, and why.

msgspec reports a failed decode or convert as one string, ``"<reason> - at `$<path>`"``
(no location at the top level). This is the one place that string is taken apart, so the
HTTP layer (422 naming the field) and the settings (one line naming the variable) agree.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import msgspec

__all__ = ["MISSING_FIELD", "UNKNOWN_FIELD", "FieldError", "field_error"]

UNKNOWN_FIELD = "unknown field"
MISSING_FIELD = "missing required field"

_AT_PATH = re.compile(r"^(?P<reason>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_NAMED_FIELD = re.compile(
    r"^Object (?P<what>contains unknown|missing required) field `(?P<field>[^`]*)`$"
)


class FieldError(NamedTuple):
    """Where a value failed validation, and msgspec's reason.

    ``path`` is dotted with list indexes, e.g. ``items[0].role``: empty for the value as a
    whole, ``[...]`` for a mapping's key msgspec does not name. For an unknown or missing
    field it names that field and ``reason`` is UNKNOWN_FIELD or MISSING_FIELD; otherwise
    ``reason`` is msgspec's text, such as "Expected `int` >= 1".
    """

    path: str
    reason: str


def field_error(error: msgspec.ValidationError) -> FieldError:
    """The field path and the reason of a msgspec.ValidationError."""
    reason, path = str(error), ""
    if match := _AT_PATH.match(reason):
        reason, path = match["reason"], match["path"].removeprefix(".")
    if match := _NAMED_FIELD.match(reason):
        path = f"{path}.{match['field']}" if path else match["field"]
        reason = UNKNOWN_FIELD if match["what"] == "contains unknown" else MISSING_FIELD
    return FieldError(path, reason)
