"""The edge CNN: small, depthwise-separable, and friendly to int8.

Design choices made for the device rather than for a leaderboard:
- depthwise-separable blocks keep the multiply-adds and parameters small;
- every convolution is followed by batch norm (folded away at conversion) and
  ReLU6, whose bounded range quantizes to int8 with little loss;
- global average pooling instead of a large dense head, so the input size can
  change without changing the parameter count.
"""

from __future__ import annotations

from lab.keras_env import keras

# (filters, stride) of each depthwise-separable block
BLOCKS: tuple[tuple[int, int], ...] = (
    (32, 2),
    (48, 1),
    (64, 2),
    (96, 1),
    (128, 2),
    (160, 1),
    (256, 2),
)


BN_MOMENTUM = 0.9
"""Keras' default 0.99 lets the moving statistics lag the batch statistics for
thousands of steps on this small data set, and the inference-mode model then
gives a constant output. 0.9 settles within an epoch."""


def _conv_bn_relu(x, layer: keras.layers.Layer, name: str):
    x = layer(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu")(x)


def build_model(input_size: int, dropout: float = 0.3, width: float = 1.0) -> keras.Model:
    """A binary classifier: (size, size, 1) in [-1, 1] -> P(PNEUMONIA)."""
    inputs = keras.Input((input_size, input_size, 1), name="image")
    x = _conv_bn_relu(
        inputs,
        keras.layers.Conv2D(
            int(16 * width), 3, strides=2, padding="same", use_bias=False, kernel_initializer="he_normal", name="stem"
        ),
        "stem",
    )
    for i, (filters, stride) in enumerate(BLOCKS):
        x = _conv_bn_relu(
            x,
            keras.layers.DepthwiseConv2D(
                3,
                strides=stride,
                padding="same",
                use_bias=False,
                depthwise_initializer="he_normal",
                name=f"block{i}_dw",
            ),
            f"block{i}_dw",
        )
        x = _conv_bn_relu(
            x,
            keras.layers.Conv2D(
                int(filters * width), 1, use_bias=False, kernel_initializer="he_normal", name=f"block{i}_pw"
            ),
            f"block{i}_pw",
        )
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    return keras.Model(inputs, outputs, name="pneumoscan_cnn")
