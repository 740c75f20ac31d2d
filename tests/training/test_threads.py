"""``train.intra_op_threads``: applied before TensorFlow starts, reported (not raised) after.

Each case runs in a fresh Python process: TensorFlow reads the setting once per process, and
the test process started TensorFlow long ago.
"""

import json
import os
import subprocess
import sys

import pytest

from actiongen_keras.config import Config
from actiongen_keras.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _fresh(code):
    """Run ``code`` in a new interpreter (TensorFlow backend); its last stdout line as JSON."""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_NUM_INTRAOP_THREADS", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_set_before_tensorflow_starts_then_reported_once_it_has():
    r = _fresh(
        "import json\n"
        "import tensorflow as tf\n"
        "from actiongen_keras.training.threads import set_intra_op_threads\n"
        "logged = []\n"
        "before = tf.config.threading.get_intra_op_parallelism_threads()\n"
        "zero = set_intra_op_threads(0, logged.append)\n"
        "after_zero = tf.config.threading.get_intra_op_parallelism_threads()\n"
        "first = set_intra_op_threads(3, logged.append)\n"
        "set_to = tf.config.threading.get_intra_op_parallelism_threads()\n"
        "tf.constant(1.0) + 1.0  # the runtime starts with 3 threads per op\n"
        "same = set_intra_op_threads(3, logged.append)\n"
        "late = set_intra_op_threads(2, logged.append)\n"
        "print(json.dumps(dict(before=before, zero=zero, after_zero=after_zero, first=first, set_to=set_to, same=same, late=late,\n"
        "                      final=tf.config.threading.get_intra_op_parallelism_threads(), logged=logged)))\n"
    )
    assert r["before"] == 0 and r["zero"] is True and r["after_zero"] == 0  # 0 leaves TensorFlow's own choice
    assert r["first"] is True and r["set_to"] == 3
    assert r["same"] is True  # asking again for the value it runs with is no error
    assert r["late"] is False and r["final"] == 3  # too late to change: kept, and said
    assert len(r["logged"]) == 1 and "train.intra_op_threads 2 not applied" in r["logged"][0]
    assert "TF_NUM_INTRAOP_THREADS=2" in r["logged"][0]


def test_train_applies_the_config_before_reading_anything(tmp_path):
    """``train()`` sets the threads first: even a run refused for a missing DATA_DIR has set them."""
    r = _fresh(
        "import json, sys\n"
        "import tensorflow as tf\n"
        "from actiongen_keras.config import Config\n"
        "from actiongen_keras.errors import ActiongenError\n"
        "from actiongen_keras.training.train import train\n"
        "c = Config(); c.train.intra_op_threads = 3\n"
        "try:\n"
        f"    train({str(tmp_path / 'missing')!r}, {str(tmp_path / 'run')!r}, c, gru_baseline=False, progress=False)\n"
        "    refused = False\n"
        "except (ActiongenError, OSError) as e:\n"
        "    refused = True\n"
        "print(json.dumps(dict(refused=refused, threads=tf.config.threading.get_intra_op_parallelism_threads())))\n"
    )
    assert r == {"refused": True, "threads": 3}


def test_config_default_round_trip_and_range():
    assert Config().train.intra_op_threads == 1
    c = Config.from_json('{"train": {"intra_op_threads": 0}}')
    assert c.train.intra_op_threads == 0 and Config.from_json(c.to_json()) == c
    with pytest.raises(ConfigError, match="train.intra_op_threads must be >= 0"):
        Config.from_json('{"train": {"intra_op_threads": -1}}')
