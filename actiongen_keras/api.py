"""What a training script of one's own needs, taking a built dataset folder where sizes are needed.

Re-exported lazily by the package's top level (``actiongen_keras.build_model`` etc.), so
``import actiongen_keras`` stays light; see ``examples/train_script.py`` for a complete script.
"""

from __future__ import annotations

from actiongen_keras.config import Config
from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.data.pipeline import make_dataset
from actiongen_keras.errors import ConfigError
from actiongen_keras.models import builder
from actiongen_keras.models.dataset_meta import DatasetMeta
from actiongen_keras.training import train


def resolve_dataset_meta(dataset_meta=None, data_dir=None):
    """The :class:`DatasetMeta` given, or the one of the built dataset ``data_dir``: exactly one of the two."""
    if (dataset_meta is None) == (data_dir is None):
        raise ConfigError("give the dataset's sizes as either dataset_meta or data_dir (DATA_DIR from 'actiongen dataset build'), not both")
    if dataset_meta is not None:
        return DatasetMeta.from_dict(dataset_meta)
    return DatasetMeta.from_preprocessing(load_preprocessing(data_dir))


def build_model(config=None, dataset_meta=None, *, data_dir=None, name="actiongen"):
    """The attention model of ``config`` (default ``Config()``) for a dataset's sizes.

    ``data_dir``: a built dataset (its ``preprocessing.json`` gives vocabularies, window sizes
    and timing quantiles); or ``dataset_meta`` (a dict or :class:`DatasetMeta`).
    """
    return builder.build_model(config or Config(), resolve_dataset_meta(dataset_meta, data_dir), name=name)


def compile_model(model, config=None, dataset_meta=None, *, data_dir=None):
    """Compile ``model`` with the package's losses, loss weights, metrics and optimizer (as ``actiongen train`` does)."""
    return train.compile_model(model, config or Config(), resolve_dataset_meta(dataset_meta, data_dir))


__all__ = ["build_model", "compile_model", "make_dataset", "resolve_dataset_meta"]
