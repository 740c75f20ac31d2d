"""Model builders: ``build_model`` (attention) and ``build_gru_baseline`` (ablation)."""

from actiongen_keras.models.builder import build_model
from actiongen_keras.models.dataset_meta import DatasetMeta
from actiongen_keras.models.gru_baseline import build_gru_baseline
from actiongen_keras.models.model_config import (
    as_model_config,
    output_signature,
    timing_spec,
)

__all__ = ["DatasetMeta", "as_model_config", "build_gru_baseline", "build_model", "output_signature", "timing_spec"]
