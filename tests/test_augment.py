"""Training-time framing augmentation: random-resized crops and zoom-outs with aspect jitter."""

from __future__ import annotations

import numpy as np

from lab.keras_env import tf
from train.augment import make_augmenter, reframe


def _ramp(batch: int = 4, size: int = 32) -> tf.Tensor:
    row = np.linspace(-0.9, 0.9, size, dtype=np.float32)
    return tf.constant(np.tile(row[None, None, :, None], (batch, size, 1, 1)))


def test_a_full_box_keeps_the_image():
    images = _ramp()
    np.testing.assert_allclose(reframe(images, (1.0, 1.0), 1.0).numpy(), images.numpy(), atol=1e-5)


def test_zooming_out_leaves_a_black_border_and_keeps_the_size():
    out = reframe(_ramp(), (1.44, 1.44), 1.0).numpy()
    assert out.shape == (4, 32, 32, 1)
    border = np.concatenate([out[:, 0], out[:, -1], out[:, :, 0], out[:, :, -1]], axis=1)
    assert (np.isclose(border, -1.0).mean(axis=(1, 2)) > 0.5).all(), "a 20% zoom-out leaves black on every side"


def test_cropping_in_magnifies_the_image():
    out = reframe(_ramp(), (0.25, 0.25), 1.0).numpy()
    # half the width resized to the full width: the ramp's range halves, the contents are not black
    spans = out[:, 0, -1, 0] - out[:, 0, 0, 0]
    np.testing.assert_allclose(spans, 0.9, atol=0.08)
    assert out.min() > -1.0


def test_the_augmenter_keeps_shape_range_and_labels():
    images, labels = make_augmenter(seed=3)(_ramp(8), tf.constant([0, 1] * 4, tf.float32))
    assert images.shape == (8, 32, 32, 1)
    assert -1.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    assert labels.numpy().tolist() == [0, 1] * 4
