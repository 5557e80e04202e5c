"""msgspec's validation messages taken apart once: the field path and the reason."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import pytest

from service.decode_errors import MISSING_FIELD, UNKNOWN_FIELD, FieldError, field_error


class Part(msgspec.Struct, forbid_unknown_fields=True):
    role: str
    size: Annotated[int, msgspec.Meta(ge=1)] = 1


class Whole(msgspec.Struct, forbid_unknown_fields=True):
    parts: list[Part]
    labels: dict[str, int] = {}


def error_of(value: Any) -> FieldError:
    with pytest.raises(msgspec.ValidationError) as error:
        msgspec.convert(value, Whole)
    return field_error(error.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"parts": "x"}, ("parts", "Expected `array`, got `str`")),
        ({"parts": [{"role": "a", "size": 0}]}, ("parts[0].size", "Expected `int` >= 1")),
        ({"parts": [{"role": "a"}, {"role": 2}]}, ("parts[1].role", "Expected `str`, got `int`")),
        ({"parts": [], "labels": {"k": "v"}}, ("labels[...]", "Expected `int`, got `str`")),
        ({"parts": [], "extra": 1}, ("extra", UNKNOWN_FIELD)),
        ({"parts": [{"role": "a", "colour": 1}]}, ("parts[0].colour", UNKNOWN_FIELD)),
        ({}, ("parts", MISSING_FIELD)),
        ({"parts": [{}]}, ("parts[0].role", MISSING_FIELD)),
        ([], ("", "Expected `object`, got `array`")),
    ],
)
def test_the_path_and_the_reason(value: Any, expected: tuple[str, str]) -> None:
    assert error_of(value) == expected


def test_json_decoding_errors_read_the_same() -> None:
    with pytest.raises(msgspec.ValidationError) as error:
        msgspec.json.decode(b'{"parts": [{"role": "a", "size": -1}]}', type=Whole)
    assert field_error(error.value) == FieldError("parts[0].size", "Expected `int` >= 1")
