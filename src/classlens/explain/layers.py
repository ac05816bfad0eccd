"""Finding layers inside (possibly nested) Keras models and reading their outputs during a pass.

Transfer-learning models nest a `keras.applications` backbone as one layer of an outer
Functional model, so an inner layer's output tensor is not part of the outer graph and
`keras.Model(model.inputs, inner_layer.output)` fails. Keras 3 has no forward hooks, so
`capture_outputs` wraps the chosen layers' `call` for the duration of a pass (restored on exit)
and records what they return; gradients of the logits with respect to those tensors are then
taken on the same tape. Written by hand because neither Keras nor a maintained Keras 3 library
offers it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


def iter_layers(model, prefix: str = "") -> Iterator[tuple[str, object]]:
    """(path, layer) for every leaf layer in graph order, descending into nested models; a
    nested layer's path is "outer_model_layer/inner_layer"."""
    import keras

    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model):
            yield from iter_layers(layer, prefix=f"{path}/")
        else:
            yield path, layer


def get_layer(model, path: str):
    """The layer at `path` ("name" or "nested_model/name", any depth; a bare name is also looked
    up inside nested models when unique)."""
    layers = dict(iter_layers(model))
    if path in layers:
        return layers[path]
    by_name = [p for p in layers if p.rsplit("/", 1)[-1] == path]
    if len(by_name) == 1:
        return layers[by_name[0]]
    hint = "several layers have that name, give the full path" if by_name else "no such layer"
    raise ValueError(f"`layer` must name a layer of model {model.name!r} ({hint}); received "
                     f"layer={path!r}; layers with spatial outputs: "
                     f"{spatial_layer_paths(model)[-8:]} (last 8)")


def spatial_layer_paths(model) -> list[str]:
    """Paths of the layers whose output is a (N, h, w, c) feature map."""
    return [path for path, layer in iter_layers(model) if _spatial_shape(layer) is not None]


def find_last_conv_layer(model) -> str:
    """The path of the layer whose output Grad-CAM should use: the last convolution, followed
    through the layers right after it that keep its (h, w, c) shape (batch norm, activation,
    residual add), so the rectified feature map is used rather than the raw convolution; never a
    pooled or flattened output."""
    return _conv_activation(model, last=True)


def find_first_conv_layer(model) -> str:
    """The path of the first convolution's feature map, followed as in `find_last_conv_layer`."""
    return _conv_activation(model, last=False)


def _conv_activation(model, *, last: bool) -> str:
    layers = list(iter_layers(model))
    convs = [i for i, (_, layer) in enumerate(layers) if isinstance(layer, _conv_types())]
    if not convs:
        raise ValueError(f"`model` {model.name!r} has no convolutional layer; name a layer "
                         f"instead. Layers with spatial outputs: "
                         f"{spatial_layer_paths(model)[-8:]} (last 8)")
    start = convs[-1] if last else convs[0]
    shape = _spatial_shape(layers[start][1])
    chosen = start
    for i in range(start + 1, len(layers)):
        if _spatial_shape(layers[i][1]) != shape:
            break
        chosen = i
    return layers[chosen][0]


@contextmanager
def capture_outputs(model, sinks: dict[str, list]) -> Iterator[dict[str, list]]:
    """While active, every call of the layer at each path of `sinks` appends its output to
    `sinks[path]` (the caller clears the lists before a pass). The layers are restored on exit.

    The caller owns the lists, so a compiled function that reads them can be retraced in a
    later `with` block.
    """
    layers = [get_layer(model, path) for path in sinks]
    patched = []
    try:
        for path, layer in zip(sinks, layers):
            original = layer.call

            def recording(*args, _original=original, _sink=sinks[path], **kwargs):
                outputs = _original(*args, **kwargs)
                _sink.append(outputs)
                return outputs

            # object.__setattr__: bypass Keras' attribute tracking; an instance attribute shadows
            # the class's `call` for this layer only.
            object.__setattr__(layer, "call", recording)
            patched.append(layer)
        yield sinks
    finally:
        for layer in patched:
            object.__delattr__(layer, "call")


def _conv_types() -> tuple[type, ...]:
    import keras

    return (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D,
            keras.layers.Conv2DTranspose)


def _spatial_shape(layer):
    """(h, w, c) of a layer's 4-D output, else None (also for layers used at several places)."""
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    return tuple(shape[1:]) if len(shape) == 4 else None
