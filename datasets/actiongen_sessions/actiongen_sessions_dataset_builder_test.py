"""TFDS test of ``actiongen_sessions`` on the dummy sessions in ``dummy_data/``.

``dummy_data/`` is written by ``make_dummy_data.py`` (``actiongen_keras.testing.sessions.write_dummy_data``): two people, one 80 s session each,
so both sources use time-block splits with the default 70/10/20 (train [0, 56) s,
validation [56, 64) s, test [64, 80] s of each session): 83 + 2 + 16 windows per session.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# tfds.testing imports dill, which tensorflow-datasets does not install by itself (the dev extra does).
import dill  # noqa: E402,F401
import tensorflow_datasets as tfds  # noqa: E402

from datasets.actiongen_sessions import actiongen_sessions_dataset_builder  # noqa: E402,I001


class ActiongenSessionsTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = actiongen_sessions_dataset_builder.ActiongenSessions
    EXAMPLE_DIR = str(Path(__file__).resolve().parent / "dummy_data")
    BUILDER_CONFIG_NAMES_TO_TEST = ["all"]
    SPLITS = {"train": 166, "validation": 4, "test": 32}
    SKIP_CHECKSUMS = True  # nothing is downloaded


if __name__ == "__main__":
    tfds.testing.test_main()
