"""Self-supervised pretraining: the contrastive loss, and which layers it trains."""

import math

import numpy as np
import pytest


def test_contrastive_loss_matches_its_formula_and_rewards_matching_views():
    from lab.keras_env import tf
    from train.pretrain import contrastive_loss

    n, temperature = 4, 0.5
    views = tf.eye(n, 8)  # n images whose two views agree, each orthogonal to every other image
    expected = -math.log(math.exp(1 / temperature) / (math.exp(1 / temperature) + 2 * n - 2))
    assert float(contrastive_loss(views, views, temperature)) == pytest.approx(expected, rel=1e-5)

    shuffled = tf.roll(views, shift=1, axis=0)  # each view now agrees with another image's view
    assert float(contrastive_loss(views, shuffled, temperature)) > expected + 1.0


def test_pretraining_trains_the_layers_below_pooling_and_leaves_the_output_layer(fixture_data):
    from edge_app.intake.preprocess import preprocess
    from lab.keras_env import keras, tf
    from train.model import build_model
    from train.pretrain import pretrain

    keras.utils.set_random_seed(0)
    x = np.stack([preprocess(path, 32) for path in sorted(fixture_data.rglob("*.jpeg"))[:16]])
    model = build_model(32, width=0.5)
    before = {name: model.get_layer(name).get_weights()[0].copy() for name in ("stem", "block6_pw", "pneumonia")}

    losses = pretrain(model, x, epochs=2, seed=0, strategy=tf.distribute.get_strategy())

    assert len(losses) == 2 and all(np.isfinite(losses))
    assert not np.allclose(model.get_layer("stem").get_weights()[0], before["stem"])
    assert not np.allclose(model.get_layer("block6_pw").get_weights()[0], before["block6_pw"])
    np.testing.assert_array_equal(model.get_layer("pneumonia").get_weights()[0], before["pneumonia"])
