"""The gate CNN: about 40 thousand parameters, 64 px in, seventeen classes out.

It runs before every scan, so it must cost far less than the pneumonia model:
depthwise-separable blocks with ReLU6 (int8-friendly, as in train/model.py),
and a flattened 4x4 map instead of global pooling, because which way up an
image is, and which side is left, live in *where* things are, which pooling
would throw away.
"""

from __future__ import annotations

from edge_app.inference.gate import CLASS_NAMES, GATE_INPUT_SIZE
from lab.keras_env import keras
from train.model import BN_MOMENTUM

BLOCKS: tuple[tuple[int, int], ...] = ((32, 2), (48, 2), (64, 2), (96, 1))
"""(filters, stride) of each depthwise-separable block after the stride-2 stem: 64 px -> 4 x 4."""


def _bn_relu(x, name: str):
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu")(x)


def build_gate_model(input_size: int = GATE_INPUT_SIZE, dropout: float = 0.2) -> keras.Model:
    """(size, size, 1) equalised input in [-1, 1] -> softmax over CLASS_NAMES."""
    inputs = keras.Input((input_size, input_size, 1), name="image")
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="stem")(inputs)
    x = _bn_relu(x, "stem")
    for i, (filters, stride) in enumerate(BLOCKS):
        x = keras.layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"block{i}_dw")(x)
        x = _bn_relu(x, f"block{i}_dw")
        x = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"block{i}_pw")(x)
        x = _bn_relu(x, f"block{i}_pw")
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(len(CLASS_NAMES), activation="softmax", name="gate")(x)
    return keras.Model(inputs, outputs, name="pneumoscan_gate")
