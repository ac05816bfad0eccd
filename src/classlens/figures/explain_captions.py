"""What each explain figure shows, in words: the titles and captions the explain stage writes
into data/explain/figures.json beside the PNGs (the report prints them under the figures).

A caption says what the map measures (with the options that ran), how it is coloured and
scaled, and how the figure is laid out, so a reader needs no file name to read it.
"""

from __future__ import annotations

import re
from typing import Mapping, Optional, Sequence

from classlens.formatting import plural

METHOD_TITLES = {"gradients": "Vanilla gradients", "smoothgrad": "SmoothGrad",
                 "integrated_gradients": "Integrated Gradients", "gradcam": "Grad-CAM",
                 "gradcam_plus_plus": "Grad-CAM++", "occlusion": "Occlusion"}

_WHAT = {
    "gradients": "how sensitive the class score (logit) is to each pixel: |gradient|, "
                 "{reduce} over colour channels. Bright = a small change there moves the score "
                 "most (sensitivity, which is not always evidence)",
    "smoothgrad": "gradients averaged over {samples} copies of the image with Gaussian noise "
                  "(standard deviation {noise} of its value range), which removes much of their "
                  "speckle; |.|, {reduce} over colour channels. Bright = the class score is most "
                  "sensitive there",
    "integrated_gradients": "each pixel's share of the change of the class logit from a "
                            "{baseline} image to this one ({steps} steps along the path); the "
                            "shares add up to that change. Red = raises the class score, blue = "
                            "lowers it",
    "gradcam": "where the feature map of layer '{layer}' holds evidence for the class (channels "
               "weighted by their mean gradient, negatives clipped to 0), upsampled to the image. "
               "Coarse: one value per feature-map cell. Bright = more evidence for the class",
    "gradcam_plus_plus": "Grad-CAM with pixel-wise weights of the positive gradients of layer "
                         "'{layer}', which covers several parts of an object better. Bright = "
                         "more evidence for the class",
    "occlusion": "how much the class logit drops when a {patch}x{patch} patch over the pixel is "
                 "replaced by a {baseline} one (stride {stride}, averaged over the patches "
                 "covering it). Red = hiding it lowers the score (evidence for the class), blue = "
                 "hiding it raises the score",
}
_BASELINES = {"black": "black", "mean": "mean-value", "blur": "blurred"}
_SCALE = {False: "Scaled per map from 0 to its own maximum and drawn over the dimmed image "
                 "(transparent near 0)",
          True: "Scaled per map by its own largest absolute value (white = 0)"}


def method_title(name: str) -> str:
    return METHOD_TITLES.get(name, name)


def _shown(shown: int, total: int, rest: str) -> str:
    if shown >= total:
        return ""
    return f" The first {shown} of {total} explained images are drawn; {rest}."


def _labels(text: str) -> str:
    """A multi-class sentence for a multi-label run: each map explains a label, not a class."""
    return re.sub(r"\bclass\b", "label", text)


# how a multi-label run's method figure is laid out (its maps explain one label each)
_LABEL_LAYOUT = ("One block per image, titled with its true and predicted label sets: the image, "
                 "then a map for every predicted label and every missed one, headed by the "
                 "label, what happened to it (predicted; extra: predicted but not true; missed: "
                 "true but below its threshold; the last two in red) and its probability p "
                 "against its threshold t. Each map explains the label's own score (the logit "
                 "its sigmoid reads), so other labels do not enter it.")


def method_caption(name: str, options: Mapping[str, object], *, signed: bool,
                   layer: Optional[str] = None, shown: int, total: int,
                   multilabel: bool = False) -> str:
    """The caption of a method's figure (`options`: its keyword options as it ran; `layer`:
    the layer Grad-CAM used, when "auto" chose it; `multilabel`: maps per label, one block per
    image)."""
    what = _WHAT.get(name, "attribution of the class score to each pixel")
    values = {k: (_BASELINES.get(v, v) if k == "baseline" else v) for k, v in options.items()}
    if layer is not None:  # the layer that ran, not the option ("auto")
        values["layer"] = layer
    text = f"{method_title(name)}: {what.format(**values)}. {_SCALE[signed]}, so colours " \
           "compare places within one map, not images or methods."
    rest = f"maps_{name}.npy holds the maps of all"
    if not multilabel:
        return (f"{text} Red headers: misclassified images; they have a third row: the map for "
                f"the class they should have been given.{_shown(shown, total, rest)}")
    drawn = (f" {shown} of the {total} explained images are drawn, taken from each selection "
             f"group in turn; {rest}." if shown < total else "")
    return f"{_labels(text)} {_LABEL_LAYOUT}{drawn}"


MORE_IN_METHOD_FIGURES = "each method's own figure shows more"


def comparison_caption(methods: Sequence[str], *, shown: int, total: int,
                       multilabel: bool = False) -> str:
    """`multilabel`: the columns are (image, label) maps, `shown` of `total`."""
    names = ", ".join(method_title(m) for m in methods)
    what = ("Every method on the same images, for the predicted class: the image, then one row "
            f"per method ({names}), drawn as in the method's own figure (magnitude maps from 0 "
            "to their maximum over the dimmed image; signed maps red for, blue against the class, "
            "centred on 0). Methods that agree point at the same pixels; each map is scaled on "
            "its own.")
    if not multilabel:
        return what + _shown(shown, total, MORE_IN_METHOD_FIGURES)
    what = _labels(what.replace("for the predicted class", "each column one label of an image"))
    return (f"{what} Column headers: the image's true and predicted label sets, then the label "
            "explained and what happened to it (predicted; extra: predicted but not true; "
            "missed: true but below its threshold; the last two in red). Per image, its most "
            "probable predicted label and its most probable missed one are shown"
            + (f": {shown} of the {total} maps; {MORE_IN_METHOD_FIGURES}." if shown < total
               else "."))


def faithfulness_caption(*, images: int, steps: int, baseline: str, random_orders: int,
                         multilabel: bool = False) -> str:
    """`multilabel`: `images` counts (image, predicted label) maps."""
    over = (f"{plural(images, 'map')} of predicted labels: each label's own probability (its "
            "sigmoid, whatever the other labels do)" if multilabel else
            f"{images} explained images: the predicted-class probability")
    return (f"Deletion and insertion, mean over {over} "
            "as the pixels a map ranks highest are replaced by a "
            f"{baseline} baseline (left; a faithful map makes it fall fast: lower is better) or "
            f"restored into the baseline image (right; higher is better), in {steps} steps. "
            f"Dashed: the same in random pixel orders (mean of {random_orders}); a method no "
            "better than random is flagged in the trust table.")


def randomization_caption(*, images: int, threshold: float, multilabel: bool = False) -> str:
    """`multilabel`: `images` counts (image, predicted label) maps."""
    on = plural(images, "map") + " of predicted labels" if multilabel else f"{images} images"
    return (f"Model randomisation check on {on}: rank correlation (Spearman) between "
            "each method's maps and the maps of the same model with its layers re-initialised "
            "from the top down. A method that explains what the model learned falls towards 0; "
            f"one that stays above the dotted line ({threshold}) barely depends on the learned "
            "weights and is flagged.")


def activations_caption(layer: str, *, channels: int, images: int, signed: bool) -> str:
    scale = ("centred on 0 and scaled by its own largest absolute value (red positive, blue "
             "negative)" if signed else "scaled from 0 to its own maximum (bright = strong "
             "activation)")
    return (f"Feature maps of layer '{layer}' for the first {plural(images, 'explained image')}"
            f": the input, then the {channels} channels "
            f"with the highest mean activation on them (strongest first). Each map is {scale} "
            "and keeps its aspect ratio; a cell is one position of the layer's grid.")
