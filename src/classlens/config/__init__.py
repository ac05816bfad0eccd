"""Typed configuration: the schema of `params.yaml`, the constraints on its values, and the one
function that loads it.

    schema.py       the root `Config`, composed of the option dataclasses each package owns
                    (`classlens.<package>.options`), and its Hydra ConfigStore registration
    constraints.py  one table of accepted choices and ranges, keyed by dotted path
    compose.py      Hydra/DVC composition: compose, write_params, load_params, validate

Loading params never imports TensorFlow or Keras. The names below are re-exported so that
`from classlens.config import ...` is all a stage or the CLI needs.
"""

from classlens.analysis.options import AnalyzeConfig
from classlens.config.compose import compose, load_params, validate, write_params
from classlens.config.constraints import (BACKBONES, CNN_HEADS, CNN_PADDINGS, CONFUSION_ORDERS,
                                          DATA_INTERPOLATIONS, DATA_RESIZE_MODES, DATA_SOURCES,
                                          EXPLAIN_BASELINES, EXPLAIN_METHODS, INPUT_SCALINGS,
                                          LABEL_SUSPECT_SCORES, MODEL_ARCHITECTURES,
                                          MODEL_OUTPUTS, SALIENCY_REDUCTIONS)
from classlens.config.schema import Config, register_configs
from classlens.data.options import DataConfig
from classlens.evaluation.options import (EvaluateConfig, GateConfig, GateRuleConfig,
                                          PredictConfig)
from classlens.explain.options import (ActivationsConfig, ExplainConfig, GradCAMConfig,
                                       GradientsConfig, IntegratedGradientsConfig,
                                       OcclusionConfig, SmoothGradConfig, TrustConfig)
from classlens.models.options import (MODEL_KEYS, MODEL_OPTIONS, AugmentConfig, BackboneOptions,
                                      CNNOptions, FineTuneConfig, MobileNetOptions, ModelOptions,
                                      ProvidedOptions)
from classlens.tracking.options import TrackingConfig
from classlens.training.options import TrainConfig

__all__ = [
    "ActivationsConfig", "AnalyzeConfig", "AugmentConfig", "BACKBONES", "BackboneOptions",
    "CNNOptions", "CNN_HEADS", "CNN_PADDINGS", "CONFUSION_ORDERS", "Config", "DATA_INTERPOLATIONS",
    "DATA_RESIZE_MODES", "DATA_SOURCES", "DataConfig", "EXPLAIN_BASELINES", "EXPLAIN_METHODS",
    "EvaluateConfig", "ExplainConfig", "FineTuneConfig", "GateConfig", "GateRuleConfig",
    "GradCAMConfig", "GradientsConfig", "INPUT_SCALINGS", "IntegratedGradientsConfig",
    "LABEL_SUSPECT_SCORES", "MODEL_ARCHITECTURES", "MODEL_KEYS", "MODEL_OPTIONS", "MODEL_OUTPUTS",
    "MobileNetOptions", "ModelOptions", "OcclusionConfig", "PredictConfig", "ProvidedOptions",
    "SALIENCY_REDUCTIONS", "SmoothGradConfig", "TrackingConfig", "TrainConfig", "TrustConfig",
    "compose", "load_params", "register_configs", "validate", "write_params",
]
