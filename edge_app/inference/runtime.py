"""Run a .tflite model with whichever TFLite interpreter this machine has.

ai-edge-litert is the supported runtime (small, numpy 2, aarch64 wheels);
tflite_runtime and TensorFlow's tf.lite are fallbacks for machines that
already have them. TensorFlow is only tried last, because importing it costs
seconds and gigabytes on a device.

Every device runs LiteRT's default path, the XNNPACK delegate, and nothing else
is vouched for. The shipped threshold (0.031, 8 int8 steps) and every validation
figure were measured on that path, while LiteRT's own kernels round int8 results
differently (up to 8 steps on this model); XNNPACK is also the fast path (0.16 ms
per image here against 0.75 ms for the built-in and 41 ms for the reference
kernels) and gives the same numbers on x86-64 and arm64. PneumoScan cannot make
XNNPACK load where it does not (a CPU it cannot detect, another runtime), so a
device proves it: edge_app.inference.reference_outputs compares fixed outputs with
the build's at every model load, `edge-scan selftest` fails and every scan is
marked runtime_verified: false when they differ.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from functools import cache
from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np

from edge_app.files import sha256_hex
from edge_app.inference.model_metadata import read_metadata
from edge_app.inference.native_stderr import without_runtime_info

_RUNTIMES = (
    ("ai-edge-litert", "ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite-runtime", "tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow", "tensorflow.lite", "tensorflow"),
)


NO_RUNTIME_MESSAGE = (
    "No TensorFlow Lite runtime is installed on this device, so no X-ray can be scanned. "
    "Install it with: pip install ai-edge-litert"
)


OP_RESOLVER_ENV = "PNEUMOSCAN_OP_RESOLVER"
"""For engineers only: run the models with another LiteRT op resolver (BUILTIN_WITHOUT_DEFAULT_DELEGATES switches
XNNPACK off, BUILTIN_REF picks the reference kernels), to see what a device whose XNNPACK does not load would compute.
PneumoScan itself always asks for the default (AUTO: XNNPACK), the path its models' numbers were recorded on."""
DEFAULT_OP_RESOLVER = "AUTO"


class RuntimeUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Runtime:
    name: str
    version: str
    interpreter_class: type
    module: object
    """The interpreter module, for its OpResolverType."""

    def interpreter_options(self) -> dict:
        """The op resolver PNEUMOSCAN_OP_RESOLVER asks for, or nothing (the runtime's default, XNNPACK)."""
        wanted = os.environ.get(OP_RESOLVER_ENV, "").strip().upper()
        if not wanted or wanted == DEFAULT_OP_RESOLVER:
            return {}
        resolvers = getattr(self.module, "OpResolverType", None)
        names = [member.name for member in resolvers] if resolvers is not None else []
        if wanted not in names:
            raise RuntimeUnavailable(
                f"{OP_RESOLVER_ENV}={wanted} is not an op resolver of {self.name} "
                f"(it has: {', '.join(names) or 'none'}). Unset it to run PneumoScan's default path, XNNPACK."
            )
        return {"experimental_op_resolver_type": resolvers[wanted]}


@cache
def load_runtime() -> Runtime:
    """The first TFLite interpreter that imports, in order of preference."""
    for name, module_name, distribution in _RUNTIMES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        try:
            version = package_metadata.version(distribution)
        except package_metadata.PackageNotFoundError:
            version = "unknown"
        return Runtime(name, version, module.Interpreter, module)
    raise RuntimeUnavailable(NO_RUNTIME_MESSAGE)


class TFLiteClassifier:
    """A .tflite classifier with one output tensor: the pneumonia model (P(PNEUMONIA)) or the chest X-ray gate
    (one probability per class).

    Takes the float model input from `edge_app.intake.preprocess` and quantizes and dequantizes with the
    model's own tensor parameters, so int8, dynamic-range and float32 models are used the same way.
    """

    def __init__(self, model: Path | bytes, num_threads: int = 1) -> None:
        self.path = None if isinstance(model, bytes) else Path(model)
        self.content = model if isinstance(model, bytes) else Path(model).read_bytes()
        self.sha256 = sha256_hex(self.content)
        self.metadata = read_metadata(self.content)
        self.runtime = load_runtime()
        with without_runtime_info():
            self.interpreter = self.runtime.interpreter_class(
                model_content=self.content, num_threads=num_threads, **self.runtime.interpreter_options()
            )
            self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        # Read once: in a batch scan every image's quantization runs on the main thread, under the GIL.
        self._input_shape = tuple(int(d) for d in self._input["shape"])
        self._input_dtype = np.dtype(self._input["dtype"])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._input_shape

    @property
    def input_size(self) -> int:
        return self.input_shape[1]

    @property
    def outputs_size(self) -> int:
        return int(np.prod(self._output["shape"]))

    @property
    def input_dtype(self) -> str:
        return self._input_dtype.name

    def input_tensor(self, x: np.ndarray) -> np.ndarray:
        """The model's input tensor for one preprocessed image, quantized with the model's own scale and zero
        point; public so batch benchmarks and exports reuse this quantization rather than copy it."""
        dtype = self._input_dtype
        x = np.asarray(x, dtype=np.float32).reshape(self._input_shape)
        if dtype == np.float32:
            return x
        scale, zero_point = self._input["quantization"]
        info = np.iinfo(dtype)
        # In place, and with ufuncs rather than np.clip's Python wrapper: in a batch scan this runs on the
        # main thread, which must win the GIL back from the reading threads after every array operation.
        quantized = x / scale
        quantized += zero_point
        np.rint(quantized, out=quantized)
        np.maximum(quantized, info.min, out=quantized)
        np.minimum(quantized, info.max, out=quantized)
        return quantized.astype(dtype)

    @property
    def kernel_path(self) -> str:
        """Which kernels run the model, in words: the XNNPACK delegate, or LiteRT's own kernels without it."""
        resolver = os.environ.get(OP_RESOLVER_ENV, "").strip().upper() or DEFAULT_OP_RESOLVER
        try:
            delegated = any(op["op_name"] == "DELEGATE" for op in self.interpreter._get_ops_details())
        except Exception:  # noqa: BLE001 - a private API of the interpreter; older runtimes may lack it
            return f"{self.runtime.name} {self.runtime.version}, op resolver {resolver}, kernels unknown"
        kernels = "XNNPACK delegate" if delegated else "built-in kernels without XNNPACK"
        return f"{self.runtime.name} {self.runtime.version}, {kernels} (op resolver {resolver})"

    def raw_outputs(self, x: np.ndarray) -> np.ndarray:
        """The output tensor as the kernels wrote it (int8 steps for a quantized model), for one preprocessed image."""
        self.interpreter.set_tensor(self._input["index"], self.input_tensor(x))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._output["index"]).reshape(-1)

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """Every output value, dequantized, for one preprocessed image of shape (size, size, 1)."""
        return dequantized(self.raw_outputs(x), self._output)

    def predict(self, x: np.ndarray) -> float:
        """P(PNEUMONIA) for one preprocessed image of shape (size, size, 1)."""
        return float(self.outputs(x)[0])


def dequantized(raw: np.ndarray, detail: dict) -> np.ndarray:
    """Output values as float64, with the output tensor's own scale and zero point when it is quantized."""
    if np.dtype(detail["dtype"]) == np.float32:
        return raw.astype(np.float64)
    scale, zero_point = detail["quantization"]
    return (raw.astype(np.float64) - zero_point) * scale


class BatchScorer:
    """Scores many inputs of a classifier's model per invoke, on an interpreter of its own.

    The classifier's interpreter stays at batch 1, as every scan expects: resizing it from outside would change
    what the next scan runs on. A model whose batch size is fixed is scored one input at a time."""

    def __init__(self, classifier: TFLiteClassifier, batch: int) -> None:
        self.classifier = classifier
        with without_runtime_info():
            self.interpreter = classifier.runtime.interpreter_class(
                model_content=classifier.content, num_threads=1, **classifier.runtime.interpreter_options()
            )
        self._input = self.interpreter.get_input_details()[0]
        self.batch = batch if self._resize(batch) else 1
        self.batched = self.batch > 1
        self._output = self.interpreter.get_output_details()[0]

    def _resize(self, batch: int) -> bool:
        try:
            self.interpreter.resize_tensor_input(self._input["index"], [batch, *self.classifier.input_shape[1:]])
            self.interpreter.allocate_tensors()
            return True
        except (RuntimeError, ValueError):  # a model with a fixed batch size keeps its one input
            self.interpreter.allocate_tensors()
            return False

    def first_outputs(self, tensors: np.ndarray) -> np.ndarray:
        """The first output value (P(PNEUMONIA) for the pneumonia model) of each input tensor, already quantized
        with `TFLiteClassifier.input_tensor` and stacked along the batch axis."""
        scores = []
        for start in range(0, len(tensors), self.batch):
            chunk = tensors[start : start + self.batch]
            if len(chunk) != self.batch:
                self._resize(len(chunk))
            self.interpreter.set_tensor(self._input["index"], chunk)
            self.interpreter.invoke()
            raw = self.interpreter.get_tensor(self._output["index"]).reshape(len(chunk), -1)[:, 0]
            scores.append(dequantized(raw, self._output))
            if len(chunk) != self.batch:
                self._resize(self.batch)
        return np.concatenate(scores) if scores else np.empty(0, dtype=np.float64)
