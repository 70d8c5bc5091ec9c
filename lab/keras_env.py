"""Import TensorFlow with Keras 2 (tf-keras).

tensorflow-model-optimization 0.8 works only with Keras 2, and TensorFlow
chooses its Keras at first import, so every module that needs TensorFlow
imports it from here rather than directly.
"""

import os
import platform

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf
import tf_keras as keras

__all__ = ["keras", "library_versions", "tf"]


def library_versions() -> dict[str, str]:
    """The versions a model was made with, recorded in reports and model cards."""
    import numpy as np
    import PIL

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tf_keras": keras.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "platform": platform.platform(),
    }
