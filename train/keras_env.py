"""Import TensorFlow with Keras 2 (tf-keras).

tensorflow-model-optimization 0.8 works only with Keras 2, and TensorFlow
chooses its Keras at first import, so every module that needs TensorFlow
imports it from here rather than directly.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

__all__ = ["keras", "tf"]
