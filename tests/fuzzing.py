"""Hypothesis strategies for hostile JSON, shared by the fuzz tests.

Imported as ``fuzzing`` (pytest's ``pythonpath`` includes ``tests``).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Text that includes lone surrogates (invalid Unicode) and control characters.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text
    | st.text(max_size=5).map(lambda s: s * 2000)  # long strings
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=25,
)


def deeply_nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"x": [value]}
    return value
