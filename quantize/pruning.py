"""Magnitude pruning and pruning-preserving quantization-aware training (PQAT).

Pruning zeroes the smallest weights of the large pointwise convolutions. An
int8 kernel with many zeros runs no faster (TFLite executes it densely), but
a file with many zero bytes compresses far better, which is what matters when
a model update travels over a slow or metered link.

Only layers with at least `PRUNE_MIN_WEIGHTS` weights are pruned: the stem,
the depthwise kernels and the classifier head together hold under a tenth of
the weights, and zeroing their few weights costs accuracy for no size gain.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

PRUNE_MIN_WEIGHTS = 1024
FINE_TUNE_LEARNING_RATE = 3e-4
"""A tenth of edge-train's peak rate: fine-tuning repairs a trained model, it does not retrain it."""
PRUNING_RAMP_FRACTION = 0.7
"""Share of the fine-tuning steps over which sparsity ramps up; the rest recover at full sparsity."""


def _prunable(layer) -> bool:
    from lab.keras_env import keras

    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return False
    if not isinstance(layer, keras.layers.Conv2D | keras.layers.Dense):
        return False
    return int(np.prod(layer.kernel.shape)) >= PRUNE_MIN_WEIGHTS


def pruning_schedule(sparsity: float, total_steps: int):
    """Polynomial decay from 0 to `sparsity` over the first 70% of the steps.

    The last pruning step is a multiple of the pruning frequency, so the mask
    is updated exactly when the target is reached and the target is met.
    """
    import tensorflow_model_optimization as tfmot

    ramp = max(1, int(total_steps * PRUNING_RAMP_FRACTION))
    frequency = max(1, ramp // 10)
    end_step = frequency * (ramp // frequency)
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=sparsity, begin_step=0, end_step=end_step, frequency=frequency
    )


def fine_tune(
    model,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    callbacks: list | None = None,
    log: Callable[[str], None] = lambda message: None,
    label: str = "fine-tune",
) -> None:
    """Train `model` in place with edge-train's augmentation and class weights."""
    from lab.keras_env import keras
    from train import fit

    keras.utils.set_random_seed(seed)
    steps = fit.steps_per_epoch(len(x), batch_size) * epochs
    batches = fit.augmented_batches(x, y, batch_size, seed)
    fit.compile_binary(model, FINE_TUNE_LEARNING_RATE, max(1, steps))
    report = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: log(f"  {label} epoch {epoch + 1}/{epochs}: loss {logs['loss']:.4f}")
    )
    fit.fit_weighted(model, batches, y, epochs, callbacks=[*(callbacks or []), report])


def prune(
    model,
    x: np.ndarray,
    y: np.ndarray,
    sparsity: float,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    log: Callable[[str], None] = lambda message: None,
):
    """Prune the large layers of a trained model to `sparsity` while fine-tuning;
    returns the stripped model (plain Keras layers, zeros in the kernels)."""
    import tensorflow_model_optimization as tfmot

    from lab.keras_env import keras
    from train.fit import steps_per_epoch

    total_steps = steps_per_epoch(len(x), batch_size) * epochs
    schedule = pruning_schedule(sparsity, total_steps)

    def wrap(layer):
        if _prunable(layer):
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    copy = keras.models.clone_model(model)  # wrapping reuses layers: keep the caller's model untouched
    copy.set_weights(model.get_weights())
    wrapped = keras.models.clone_model(copy, clone_function=wrap)
    fine_tune(
        wrapped,
        x,
        y,
        epochs,
        seed,
        batch_size,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
        log=log,
        label="pruning",
    )
    return tfmot.sparsity.keras.strip_pruning(wrapped)


def pqat(
    pruned_model,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    log: Callable[[str], None] = lambda message: None,
):
    """Quantization-aware fine-tuning that keeps the pruned zeros at zero."""
    import tensorflow_model_optimization as tfmot

    annotated = tfmot.quantization.keras.quantize_annotate_model(pruned_model)
    model = tfmot.quantization.keras.quantize_apply(
        annotated, tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
    )
    fine_tune(model, x, y, epochs, seed, batch_size, log=log, label="PQAT")
    return model


def layer_sparsity(model) -> dict:
    """Share of exactly-zero weights in each convolution and dense kernel, and overall."""
    layers, zeros, total = {}, 0, 0
    for layer in model.layers:
        kernel = getattr(layer, "depthwise_kernel", None)
        if kernel is None:
            kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        values = kernel.numpy()
        n_zero = int((values == 0).sum())
        layers[layer.name] = {
            "weights": int(values.size),
            "zeros": n_zero,
            "sparsity": round(n_zero / values.size, 4),
            "pruned": _prunable(layer),
        }
        zeros += n_zero
        total += int(values.size)
    pruned = [v for v in layers.values() if v["pruned"]]
    pruned_zeros, pruned_total = sum(v["zeros"] for v in pruned), sum(v["weights"] for v in pruned)
    return {
        "layers": layers,
        "overall": round(zeros / total, 4) if total else 0.0,
        "pruned_layers": round(pruned_zeros / pruned_total, 4) if pruned_total else 0.0,
    }
