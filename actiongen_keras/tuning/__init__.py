"""Architecture search with KerasTuner (``actiongen tune``).

* :class:`ActiongenHyperModel` and :func:`config_from_hparams` (``tuning.hypermodel``);
* the objective ``val_skill`` (``tuning.objective``);
* :func:`run_search`, :func:`make_tuner`, :func:`write_results` (``tuning.search``);
* :func:`run_distributed`: a chief and workers on one machine (``tuning.distributed``).
"""

from actiongen_keras.tuning.hypermodel import (
    DEFAULT_SPACE,
    HP_NAMES,
    ActiongenHyperModel,
    config_from_hparams,
)
from actiongen_keras.tuning.objective import (
    OBJECTIVE,
    PARTS,
    ValidationScorer,
    composite,
)
from actiongen_keras.tuning.search import (
    evaluate_config,
    make_tuner,
    run_search,
    write_results,
)

__all__ = [
    "DEFAULT_SPACE",
    "HP_NAMES",
    "OBJECTIVE",
    "PARTS",
    "ActiongenHyperModel",
    "ValidationScorer",
    "composite",
    "config_from_hparams",
    "evaluate_config",
    "make_tuner",
    "run_search",
    "write_results",
]
