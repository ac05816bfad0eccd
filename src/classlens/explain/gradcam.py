"""Grad-CAM (Selvaraju et al. 2017) and Grad-CAM++ (Chattopadhyay et al. 2018) on a
convolutional feature map — found automatically or named, inside nested backbones too — with
gradients of the target logit; ReLU, then bilinear upsampling to the input size."""

from __future__ import annotations

import numpy as np

from classlens.explain.base import Explainer, batch_signature
from classlens.explain.layers import capture_outputs, find_last_conv_layer, get_layer


class GradCAM(Explainer):
    """ReLU(sum_k w_k A_k) with w_k the spatial mean of d logit / d A_k, upsampled to (H, W).

    Args:
        layer: `"auto"` (the last convolution's feature map, nested models searched; see
            `classlens.explain.layers.find_last_conv_layer`), a layer name, or a path such as
            `"mobilenetv2_1.00_96/out_relu"` for a layer inside a nested model.
    """

    name = "gradcam"

    def __init__(self, model, *, batch_size: int = 64, layer: str = "auto"):
        super().__init__(model, batch_size=batch_size)
        self.layer = find_last_conv_layer(model) if layer == "auto" else layer
        get_layer(model, self.layer)  # fails early, naming the candidates, on an unknown layer
        self._captured: dict[str, list] = {self.layer: []}
        self._function = self._compiled(self._captured[self.layer])

    def _weights(self, activations, grads):
        """Per-channel weights (N, 1, 1, K) from the feature map and its gradients."""
        import tensorflow as tf

        return tf.reduce_mean(grads, axis=(1, 2), keepdims=True)

    def _compiled(self, captured):
        import tensorflow as tf

        logits, size = self.logits, tuple(self.model.inputs[0].shape[1:3])

        @tf.function(input_signature=batch_signature(self.model))
        def cam(x, t):
            captured.clear()
            with tf.GradientTape() as tape:
                tape.watch(x)
                chosen = tf.gather(logits(x, training=False), t, axis=1, batch_dims=1)
                activations = tf.cast(captured[-1], tf.float32)
            grads = tf.cast(tape.gradient(chosen, captured[-1]), tf.float32)
            heat = tf.nn.relu(tf.reduce_sum(self._weights(activations, grads) * activations,
                                            axis=-1, keepdims=True))
            return tf.image.resize(heat, size, method="bilinear")[..., 0]

        return cam

    def _explain(self, images, targets):
        with capture_outputs(self.model, self._captured):
            return np.concatenate([self._function(images[s], targets[s]).numpy()
                                   for s in self._batches(len(images))])


class GradCAMPlusPlus(GradCAM):
    """Grad-CAM with the pixel-wise weights of Grad-CAM++:
    w_k = sum_ij alpha_kij ReLU(g_kij), alpha = g^2 / (2 g^2 + sum_ab A_kab g^3), with g the
    gradient of the logit (the closed form the paper derives for an exponential of the score),
    alphas normalised per channel as in the authors' code."""

    name = "gradcam_plus_plus"

    def _weights(self, activations, grads):
        import tensorflow as tf

        g2, g3 = grads ** 2, grads ** 3
        denominator = 2 * g2 + tf.reduce_sum(activations, axis=(1, 2), keepdims=True) * g3
        alphas = g2 / tf.where(denominator != 0, denominator, tf.ones_like(denominator))
        norm = tf.reduce_sum(alphas, axis=(1, 2), keepdims=True)
        alphas = alphas / tf.where(norm != 0, norm, tf.ones_like(norm))
        return tf.reduce_sum(alphas * tf.nn.relu(grads), axis=(1, 2), keepdims=True)
