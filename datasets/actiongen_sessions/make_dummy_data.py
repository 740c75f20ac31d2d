"""``python datasets/actiongen_sessions/make_dummy_data.py`` rewrites ``dummy_data/`` next to this
file: the TFDS test's sessions (:func:`actiongen_keras.testing.sessions.write_dummy_data`)."""

from pathlib import Path

from actiongen_keras.testing.sessions import write_dummy_data

if __name__ == "__main__":
    for p in write_dummy_data(Path(__file__).resolve().parent / "dummy_data"):
        print(p)
