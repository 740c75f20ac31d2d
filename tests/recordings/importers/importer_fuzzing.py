"""Hypothesis strategies shared by the importer tests: byte-level mutations of real files."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def mutated(draw, base, tokens):
    """``base`` with 1-6 edits: a byte set, a token (or random bytes) inserted, a run deleted, or a truncation."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        op = draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        if op == "set" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(st.sampled_from(tokens) | st.binary(max_size=6))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 20))]
        else:
            del data[i:]
    return bytes(data)
