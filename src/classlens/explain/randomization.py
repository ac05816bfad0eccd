"""Model-randomisation sanity check (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"):
re-initialise the layers from the top (logits) down, cumulatively, and measure how much each
method's maps change. A map that barely changes when the weights it should explain are random
does not explain the model (an edge detector passes every other test)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from classlens.explain.layers import iter_layers


@dataclass(frozen=True)
class RandomizationResult:
    """`spearman[method]` is (checkpoints, N): the rank correlation of each image's |map| with
    its map under the trained weights, after `counts[c]` layers of `layers` (top-down) were
    re-initialised. NaN where a map is constant (undefined correlation)."""

    layers: list[str]
    counts: list[int]
    spearman: dict[str, np.ndarray]

    def summary(self, *, max_spearman: float = 0.5) -> dict[str, dict]:
        """Per method: mean correlation at each checkpoint and after all layers were
        re-initialised, and a flag when that final correlation is above `max_spearman` (the map
        barely depends on the weights)."""
        out = {}
        for method, values in self.spearman.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN checkpoint: undefined
                means = np.nanmean(values, axis=1)
            final = means[-1]
            out[method] = {
                "spearman_by_checkpoint": [None if np.isnan(m) else float(m) for m in means],
                "spearman_final": None if np.isnan(final) else float(final),
                "insensitive_to_model": bool(not np.isnan(final) and final > max_spearman),
            }
        return out


def weighted_layers_top_down(model) -> list[tuple[str, object]]:
    """(path, layer) of the layers holding weights, nested models included, output side first."""
    return [(path, layer) for path, layer in reversed(list(iter_layers(model))) if layer.weights]


def checkpoint_counts(n_layers: int, checkpoints: int) -> list[int]:
    """How many layers are randomised at each checkpoint: every layer (checkpoints = 0), or
    `checkpoints` evenly spaced counts from 1 (the logits only) to all."""
    if checkpoints <= 0 or checkpoints >= n_layers:
        return list(range(1, n_layers + 1))
    return sorted({int(round(c)) for c in np.linspace(1, n_layers, checkpoints)})


def model_randomization(model, explainers: dict, images, targets, *, checkpoints: int = 0,
                        seed: int = 0, original: dict | None = None) -> RandomizationResult:
    """Cascading randomisation of `model`'s weights, maps recomputed at each checkpoint.

    The model's weights are changed in place (so explainers built on it, with their compiled
    functions, are reused as they are) and restored before returning, even on error.

    Args:
        model: the trained classifier.
        explainers: {method name: Explainer built on this `model`}.
        images, targets: what to explain, as for `Explainer.explain`.
        checkpoints: how many cascade points to evaluate (0: after every layer).
        seed: seeds the new weights.
        original: {method: maps under the trained weights} if already computed.
    """
    for name, explainer in explainers.items():
        if explainer.model is not model:
            raise ValueError(f"`explainers` must be built on `model`; {name!r} explains another "
                             f"model")
    layers = weighted_layers_top_down(model)
    if not layers:
        raise ValueError(f"`model` {model.name!r} has no weights to randomise")
    counts = checkpoint_counts(len(layers), checkpoints)
    original = dict(original or {})
    for name, explainer in explainers.items():
        if name not in original:
            original[name] = explainer.explain(images, targets)
    saved = [variable.numpy() for variable in model.weights]
    spearman = {name: np.zeros((len(counts), len(images))) for name in explainers}
    try:
        done = 0
        for c, count in enumerate(counts):
            for path, layer in layers[done:count]:
                reinitialize(layer, seed=seed + done)
                done += 1
            for name, explainer in explainers.items():
                spearman[name][c] = rank_correlations(original[name],
                                                      explainer.explain(images, targets))
    finally:
        for variable, value in zip(model.weights, saved):
            variable.assign(value)
    return RandomizationResult(layers=[path for path, _ in layers], counts=counts,
                               spearman=spearman)


def rank_correlations(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of |first[i]| with |second[i]| per image (scipy); NaN where
    either map is constant."""
    from scipy.stats import ConstantInputWarning, spearmanr

    values = np.empty(len(first))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        for i, (a, b) in enumerate(zip(first, second)):
            values[i] = spearmanr(np.abs(a).ravel(), np.abs(b).ravel()).statistic
    return values


def reinitialize(layer, *, seed: int) -> None:
    """Draw fresh values for every variable of `layer` from the initializer the layer declares
    for it (`kernel_initializer`, `gamma_initializer`...); kernels without one get Glorot
    uniform, other variables without one are left as they are."""
    import keras

    for i, variable in enumerate(layer.weights):
        initializer = _initializer_for(layer, variable.name)
        if initializer is None and len(variable.shape) >= 2:
            initializer = keras.initializers.GlorotUniform()
        if initializer is None:
            continue
        config = initializer.get_config()
        if "seed" in config:
            initializer = initializer.__class__.from_config({**config, "seed": seed * 1000 + i})
        variable.assign(keras.ops.cast(initializer(variable.shape, dtype=variable.dtype),
                                       variable.dtype))


def _initializer_for(layer, variable_name: str):
    base = variable_name.split("/")[-1].split(":")[0]
    candidates = [f"{base}_initializer", f"{base.replace('_kernel', '')}_initializer"]
    if base == "kernel":
        candidates += ["depthwise_initializer"]
    for attribute in candidates:
        found = getattr(layer, attribute, None)
        if found is not None:
            return found
    return None
