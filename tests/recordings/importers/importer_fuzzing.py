"""Hypothesis strategies shared by the importer tests: byte-level mutations of real files."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from actiongen_keras.errors import ActiongenError
from actiongen_keras.recordings.session import read_session, write_session

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


def assert_only_own_errors(read, source, out):
    """``read(source, repair=...)`` in both modes raises nothing but ``ActiongenError``, and
    whatever it returns writes and reads back as a valid session."""
    for repair in (False, True):
        try:
            session = read(source, repair=repair)[0]
        except ActiongenError:
            continue
        write_session(session, out)
        read_session(out)
