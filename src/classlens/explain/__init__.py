"""Attribution maps and the numbers that say how far to trust them: pure functions and
classes from a model and a batch to arrays (no file I/O, no plotting, no logging).

    base.py                  Explainer: model + batch_size -> explain(images, targets) -> maps
    saliency.py              vanilla gradients, SmoothGrad
    integrated_gradients.py  Integrated Gradients with its completeness gap
    gradcam.py               Grad-CAM, Grad-CAM++ (nested backbones included)
    occlusion.py             occlusion sensitivity
    activations.py           feature maps of chosen layers
    layers.py                finding layers in nested models, reading their outputs
    baselines.py             black / mean / blur reference images
    faithfulness.py          deletion and insertion curves vs random orders
    randomization.py         model-randomisation sanity check (Spearman)
    selection.py             which test images to explain (no TensorFlow)

Modules that need TensorFlow import it inside functions, so importing this package is cheap.
"""

from __future__ import annotations

# name -> (module, class); the order is the order of the comparison grid. `explain.methods` in
# params.yaml accepts these names (classlens.config.constraints imports them).
METHODS: dict[str, tuple[str, str]] = {
    "gradients": ("saliency", "VanillaGradients"),
    "smoothgrad": ("saliency", "SmoothGrad"),
    "integrated_gradients": ("integrated_gradients", "IntegratedGradients"),
    "gradcam": ("gradcam", "GradCAM"),
    "gradcam_plus_plus": ("gradcam", "GradCAMPlusPlus"),
    "occlusion": ("occlusion", "Occlusion"),
}


def explainer_class(name: str):
    """The Explainer class registered as `name`."""
    import importlib

    if name not in METHODS:
        raise ValueError(f"`method` must be one of {list(METHODS)}; received method={name!r}")
    module, cls = METHODS[name]
    return getattr(importlib.import_module(f"classlens.explain.{module}"), cls)


def make_explainer(name: str, model, *, batch_size: int = 64, **options):
    """Build the method `name` on `model` with its own keyword options (see each class)."""
    return explainer_class(name)(model, batch_size=batch_size, **options)
