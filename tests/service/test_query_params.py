"""validation.query_params reads a query string as Starlette's request.query_params does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from service.validation import query_params

# Names, values and separators, escaped or not, with the characters that mean something.
PIECES = st.text(alphabet=st.sampled_from("ab=&+%2F0x;é "), max_size=30)


@given(PIECES)
def test_the_same_dict_as_starlettes_query_params(text: str) -> None:
    raw = text.encode("utf-8")
    assert query_params(raw) == dict(QueryParams(raw.decode("latin-1")))


def test_the_last_of_a_repeated_name_wins_and_blank_values_are_kept() -> None:
    assert query_params(b"limit=5&q=&limit=7&flag") == {"limit": "7", "q": "", "flag": ""}
    assert query_params(b"q=caf%C3%A9+au+lait") == {"q": "café au lait"}
    assert query_params(b"") == {}
