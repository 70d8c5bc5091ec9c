"""The chest X-ray gate: is this a frontal chest X-ray, which way up, inverted, mirrored?

The pneumonia model answers for any picture it is given: a photo, a CT slice
or an X-ray turned on its side all get a verdict, and a confident NORMAL on
such an image means a child is not referred. The gate is a separate tiny model
(edge_app/models/gate.tflite) that runs before any pneumonia model, so every
pneumonia model sits behind the same check.

Its one softmax output has seventeen classes: not a chest X-ray, and a chest
X-ray in each of the four quarter turns, plain or inverted (white and black
swapped), as it is or mirrored (left and right swapped, as a film scanned from
the back). An X-ray the gate is sure about is turned upright, inverted back
and/or mirrored back before the pneumonia model sees it, and the result records
what was corrected; one whose turn or inversion is unsure is rejected. Being
unsure about a mirror is not a reason to reject: the pneumonia model still sees
a chest, and a mirrored one errs towards referral. Thresholds travel in the
gate's own metadata.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

import numpy as np
from PIL import Image

from edge_app import contract
from edge_app.inference.model_metadata import metadata_entries
from edge_app.inference.runtime import TFLiteClassifier
from edge_app.intake.preprocess import to_model_input
from edge_app.reasons import INVERTED_IMAGE, NOT_A_CHEST_XRAY, WRONG_ORIENTATION, ImageRejected

GATE_METADATA_NAME = "pneumoscan_gate"
"""Name of the JSON metadata entry inside the gate model."""
GATE_INPUT_SIZE = 64
GATE_PREPROCESSING = f"{contract.PREPROCESSING_NAME} v{contract.PREPROCESSING_VERSION} at {GATE_INPUT_SIZE} px"

NOT_XRAY_CLASS = 0
"""Class 0 is "not a chest X-ray"; class 1 + 8 * mirrored + 4 * inverted + quarter_turns is a chest X-ray
mirrored or not, then turned `quarter_turns` times counter-clockwise (numpy's rot90), then inverted or not."""
CLASS_NAMES = ("not_a_chest_xray",) + tuple(
    f"{'mirrored_' if mirrored else ''}{'inverted_' if inverted else ''}rot{90 * turns}"
    for mirrored in (False, True)
    for inverted in (False, True)
    for turns in range(4)
)
ORIENTATIONS = 8
"""Four quarter turns, plain or inverted: the X-ray classes as they are; the mirrored ones follow them."""
DEFAULT_XRAY_THRESHOLD = 0.5
DEFAULT_CORRECTION_CONFIDENCE = 0.9


def xray_class(quarter_turns: int, inverted: bool, mirrored: bool = False) -> int:
    """The class index of a chest X-ray mirrored or not, turned `quarter_turns` counter-clockwise, inverted or not."""
    return 1 + ORIENTATIONS * int(mirrored) + 4 * int(inverted) + quarter_turns % 4


@dataclass(frozen=True)
class Correction:
    """How a chest X-ray was found: mirrored or not, turned `quarter_turns` times counter-clockwise,
    inverted or not."""

    quarter_turns: int = 0
    inverted: bool = False
    mirrored: bool = False

    @property
    def needed(self) -> bool:
        return self.quarter_turns != 0 or self.inverted or self.mirrored

    @property
    def code(self) -> str | None:
        """What was done to right the image, in that order, for records: e.g. "rotate_cw_90+invert" or
        "mirror"; None when upright."""
        steps = [
            ("", "rotate_cw_90", "rotate_180", "rotate_ccw_90")[self.quarter_turns],
            "invert" * self.inverted,
            "mirror" * self.mirrored,
        ]
        return "+".join(step for step in steps if step) or None

    @classmethod
    def from_code(cls, code: str | None) -> Correction:
        """The correction a record's `code` names: results keep what the gate did, so it is never rerun."""
        steps = set((code or "").split("+")) - {""}
        turns = {"rotate_cw_90": 1, "rotate_180": 2, "rotate_ccw_90": 3}
        return cls(
            quarter_turns=sum(turns.get(step, 0) for step in steps),
            inverted="invert" in steps,
            mirrored="mirror" in steps,
        )

    @property
    def sentence(self) -> str:
        """What was wrong, in plain words for the person scanning (stored with the result, in English)."""
        return self.describe()

    def describe(self, gettext: Callable[[str], str] = str) -> str:
        """The sentence in the language `gettext` translates to."""
        turned = ("", gettext("turned on its side"), gettext("upside down"), gettext("turned on its side"))
        found = [
            turned[self.quarter_turns],
            gettext("inverted (white and black swapped)") if self.inverted else "",
            gettext("mirrored (left and right swapped)") if self.mirrored else "",
        ]
        joined = reduce(
            lambda first, second: gettext("{first} and {second}").format(first=first, second=second),
            [part for part in found if part],
        )
        return gettext("The X-ray was {found}; it was put right before scanning.").format(found=joined)

    def apply(self, model_input: np.ndarray) -> np.ndarray:
        """The model input turned upright, un-inverted and un-mirrored. Equalised inputs are rank-based, so
        swapping black and white is exactly a change of sign; a quarter turn and a mirror commute with
        squashing to a square."""
        righted = np.rot90(model_input, -self.quarter_turns, axes=(0, 1))
        if self.mirrored:
            righted = righted[:, ::-1]
        return np.ascontiguousarray(-righted if self.inverted else righted)


class Gate:
    """The gate model with its decision thresholds."""

    def __init__(self, classifier: TFLiteClassifier, metadata: dict) -> None:
        self.classifier = classifier
        self.metadata = metadata
        self.xray_threshold = float(metadata.get("xray_threshold", DEFAULT_XRAY_THRESHOLD))
        self.correction_confidence = float(metadata.get("correction_confidence", DEFAULT_CORRECTION_CONFIDENCE))

    @property
    def sha256(self) -> str:
        return self.classifier.sha256

    def check(self, image: Image.Image) -> Correction:
        """How to right this chest X-ray; raises ImageRejected when it is not one, or its way up is unsure."""
        return self.check_input(to_model_input(image, self.classifier.input_size))

    def check_input(self, gate_input: np.ndarray) -> Correction:
        """`check` for an image already made into the gate's input."""
        return self.decide(self.classifier.outputs(gate_input))

    def decide(self, probabilities: np.ndarray) -> Correction:
        """Orientation is judged on the X-ray share of the probability alone, so an image that is surely an
        X-ray but only probably upright is refused rather than scanned the wrong way up: a sideways
        pneumonia X-ray once came back NORMAL. Turn and inversion are judged with the mirror summed out,
        and the mirror on its own: an X-ray is mirrored back only when the gate is sure of that too."""
        xray = 1.0 - float(probabilities[NOT_XRAY_CLASS])
        if xray < self.xray_threshold:
            raise ImageRejected(
                NOT_A_CHEST_XRAY,
                "This does not look like a frontal chest X-ray, so it was not scanned. "
                "Check that you picked the right picture.",
            )
        shares = np.asarray(probabilities[1:], dtype=np.float64) / max(xray, 1e-9)
        orientation = shares[:ORIENTATIONS] + shares[ORIENTATIONS:]
        best = int(np.argmax(orientation))
        mirrored = bool(shares[ORIENTATIONS:].sum() >= self.correction_confidence)
        if orientation[best] >= self.correction_confidence:
            return Correction(quarter_turns=best % 4, inverted=best >= 4, mirrored=mirrored)
        if orientation[4:].sum() > 0.5:
            raise ImageRejected(
                INVERTED_IMAGE,
                "The X-ray looks inverted (white and black swapped). Use the original image, not a negative.",
            )
        raise ImageRejected(
            WRONG_ORIENTATION,
            "The X-ray may be on its side or upside down. Turn it so the head is at the top, then scan again.",
        )


def read_gate_metadata(content: bytes) -> dict:
    data = metadata_entries(content).get(GATE_METADATA_NAME)
    return json.loads(data.decode("utf-8")) if data else {}


def open_gate(content: bytes) -> Gate:
    """A gate from verified .tflite bytes; the caller checks the bytes against their checksum."""
    classifier = TFLiteClassifier(content)
    shape = classifier.input_shape
    if shape != (1, GATE_INPUT_SIZE, GATE_INPUT_SIZE, 1) or classifier.outputs_size != len(CLASS_NAMES):
        raise ValueError(f"input {shape} with {classifier.outputs_size} outputs is not a chest X-ray gate")
    return Gate(classifier, read_gate_metadata(content))
