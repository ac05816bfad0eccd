"""Model builders. Every architecture ends in a dense layer named `logits` followed by a layer
named `probabilities`: a softmax for `task.kind` multiclass, a sigmoid (one output for binary, one
per class for multilabel) otherwise; explanations take gradients of the logits either way.

Layer names explanation methods can rely on:
- `logits`: the pre-activation scores (float32), in every model.
- `features`: the last spatial feature map as a top-level tensor, in the scratch CNN and in
  transfer models (the backbone's output): Grad-CAM's target layer.
- `backbone`: the nested keras.applications network of a transfer model (its own conv layers,
  e.g. `model.get_layer("backbone").get_layer("conv_pw_13")`), or the network of a provided
  model file.
"""

from classlens.models.backbones import BACKBONE_LAYER
from classlens.models.build import build_model
from classlens.models.names import FEATURES_LAYER, LOGITS_LAYER

__all__ = ["BACKBONE_LAYER", "FEATURES_LAYER", "LOGITS_LAYER", "build_model"]
