"""A binary model (one sigmoid output, the positive class's score z) seen as a two-class one, so
code written for class-indexed logits (the explainers, faithfulness, randomization) takes it as
it is: logits [-z/2, z/2] (positive class second, or first when it is class 0) and their
softmax, which is exactly the sigmoid: softmax([-z/2, z/2])[1] = 1 / (1 + e^-z). The negative
class's attributions are then the positive's mirrored, as they should be."""

from __future__ import annotations

from classlens.models.names import LOGITS_LAYER


def two_class_view(model, *, positive: int = 1):
    """`model` (ending in `logits` of width 1 then a sigmoid) wrapped as a classifier of two
    classes in class order, sharing its layers and weights; its own layers stay reachable inside
    the nested model named after it."""
    import keras
    from keras import layers

    inner = keras.Model(model.inputs, model.get_layer(LOGITS_LAYER).output, name=model.name)
    inputs = keras.Input(shape=model.inputs[0].shape[1:], dtype=model.inputs[0].dtype,
                         name="image")
    z = inner(inputs)
    halves = [layers.Rescaling(-0.5, name="negative_half")(z),
              layers.Rescaling(0.5, name="positive_half")(z)]
    logits = layers.Concatenate(name=LOGITS_LAYER, dtype="float32")(
        halves if positive == 1 else halves[::-1])
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    return keras.Model(inputs, outputs, name=f"{model.name}_two_classes")
