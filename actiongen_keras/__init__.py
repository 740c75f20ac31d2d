"""actiongen_keras: learn how people operate a computer in a game, and generate input like them.

``actiongen_keras.load_model(path)`` loads a ``model.keras`` written by ``actiongen train``
(it registers the package's custom layers, losses and metrics first). Everything else
lives in the stage packages: ``recordings``, ``data``, ``layers``, ``models``,
``training``, ``generation``, ``evaluation``, ``export``, ``tuning``.
"""

__version__ = "0.1.0"


def load_model(path, compile=True):
    """``keras.saving.load_model`` with every actiongen custom object registered."""
    import keras

    import actiongen_keras.layers  # noqa: F401  (registers the layers)
    import actiongen_keras.training.losses  # noqa: F401
    import actiongen_keras.training.metrics  # noqa: F401

    return keras.saving.load_model(path, compile=compile)
