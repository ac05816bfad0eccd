"""Layer names every classlens model has (see the package docstring)."""

LOGITS_LAYER = "logits"
FEATURES_LAYER = "features"
