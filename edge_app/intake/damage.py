"""Find damaged JPEG and PNG files before their pixels are trusted.

Pillow's JPEG decoder silently ignores libjpeg's warnings. A JPEG cut short
with an end marker appended, or a header that claims 7000x7000 pixels over a
few kilobytes, decodes "successfully": every missing block is filled with
flat mid-grey, and the model gives that grey a confident verdict. So the file
structure is checked first (cheap, on the raw bytes), and the decoded pixels
are checked for the grey fill that missing data leaves behind.

PNG carries a CRC on every chunk; Pillow does not check it for image data,
so all chunk CRCs are checked here. Any mismatch means the bytes changed
after the file was written.
"""

from __future__ import annotations

import io
import math
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8"

_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_ARITHMETIC_SOF = frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_PROGRESSIVE_SOF = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_SOS, _EOI, _DRI, _APP1 = 0xDA, 0xD9, 0xDD, 0xE1
_EXIF_HEADER = b"Exif\x00\x00"
_EXIF_TYPE_SIZES = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
    13: 4,
    16: 8,
    17: 8,
    18: 8,
}
"""Bytes per value of each TIFF tag type, as Pillow reads them."""
_GREY_FILL = 128
"""libjpeg leaves a block with no data as all-zero coefficients: flat 128 in every channel."""
_MIN_GREY_RUN = 8
"""Decoded pixels of exact fill grey at the end of the last row that mark missing data."""
_TEXTURE_STD = 3.0
"""A block with more spread than this (in grey levels) shows detail, not a flat border."""
_MIN_UNCHANGED_DETAILED_BLOCKS = 8
"""Detailed blocks after the last one a progressive file's last scan changed (intact files: at most 1 of 600)."""

_PILLOW_DIR = str(Path(PIL.__file__).parent)


class DamagedImage(ValueError):
    """The file's bytes are damaged or incomplete; the message says how."""


@contextmanager
def decoder_warnings_as_damage() -> Iterator[None]:
    """Raise DamagedImage after the block if Pillow warned while in it (corrupt EXIF, a bad
    tag): a decoder that had to guess may have guessed pixels. Other warnings are passed on.

    Python's warning filters are global to the process, so the warnings are only
    collected on the main thread (edge-scan's); a loader thread (training data)
    must not silence or capture warnings of the threads around it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        if warning.filename.startswith(_PILLOW_DIR):
            raise DamagedImage(f"the decoder reported damage ({warning.message})")
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


@dataclass
class _Frame:
    width: int = 0
    height: int = 0
    components: dict[int, tuple[int, int]] = field(default_factory=dict)
    """component id -> (horizontal, vertical) sampling factor."""
    progressive: bool = False
    arithmetic: bool = False
    restart_interval: int = 0


def check_file_structure(data: bytes) -> None:
    """Raise DamagedImage when a JPEG's or PNG's structure shows damage; other bytes pass unchanged."""
    if data.startswith(PNG_SIGNATURE):
        _check_png_chunks(data)
    elif data.startswith(JPEG_SIGNATURE):
        _check_jpeg_segments(data)


def check_exif(tiff: bytes) -> None:
    """The EXIF block's first directory (where the orientation is) lies wholly inside the block.

    Pillow only warns about a damaged EXIF block and then ignores the tags it
    cannot read, orientation included, and warnings cannot be caught per thread;
    so the directory is checked here, byte for byte as Pillow reads it.
    """
    if tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        raise DamagedImage("the EXIF block is not readable")
    order = "<" if tiff[:2] == b"II" else ">"
    (directory,) = struct.unpack(order + "I", tiff[4:8])
    if directory + 2 > len(tiff):
        raise DamagedImage("the EXIF block points outside itself")
    (count,) = struct.unpack(order + "H", tiff[directory : directory + 2])
    if directory + 2 + 12 * count > len(tiff):
        raise DamagedImage("the EXIF block is cut short")
    for index in range(count):
        entry = directory + 2 + 12 * index
        kind, number, offset = struct.unpack(order + "HII", tiff[entry + 2 : entry + 12])
        size = _EXIF_TYPE_SIZES.get(kind, 0) * number
        if size > 4 and offset + size > len(tiff):
            raise DamagedImage("an EXIF tag points outside the EXIF block")


def _check_png_chunks(data: bytes) -> None:
    """Every chunk complete with a matching CRC, up to IEND."""
    position = len(PNG_SIGNATURE)
    while True:
        if position + 12 > len(data):
            raise DamagedImage("the PNG file ends before its last chunk (truncated)")
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 8 + length
        if end + 4 > len(data):
            raise DamagedImage("the PNG file ends inside a chunk (truncated)")
        (crc,) = struct.unpack(">I", data[end : end + 4])
        if zlib.crc32(data[position + 4 : end]) != crc:
            raise DamagedImage(f"the PNG chunk {kind!r} fails its checksum (damaged bytes)")
        if kind == b"eXIf":
            check_exif(data[position + 8 : end])
        if kind == b"IEND":
            return
        position = end + 4


@dataclass(frozen=True)
class _ByteMarkers:
    """Where the 0xFF bytes that matter after entropy-coded data lie, found in one pass over the file.

    numpy finds them outside the GIL, so the threads of a batch scan keep decoding
    in parallel; a regular expression over each scan's data held the GIL for most
    of a millisecond per image.
    """

    ends: np.ndarray
    """Offsets of 0xFF not followed by a stuffed zero, a restart marker or fill: where a scan's data can end."""
    restarts: np.ndarray
    """Offsets of restart markers (0xFF 0xD0-0xD7)."""

    @classmethod
    def of(cls, data: bytes) -> _ByteMarkers:
        raw = np.frombuffer(data, dtype=np.uint8)
        found = np.flatnonzero(raw[:-1] == 0xFF)
        following = raw[found + 1]
        restart = (following >= 0xD0) & (following <= 0xD7)
        return cls(found[(following != 0x00) & (following != 0xFF) & ~restart], found[restart])

    def scan_end(self, position: int, size: int) -> int:
        """The first marker at or after `position` (the end of the file if there is none)."""
        index = int(np.searchsorted(self.ends, position))
        return int(self.ends[index]) if index < len(self.ends) else size

    def restarts_between(self, start: int, end: int) -> int:
        return int(np.searchsorted(self.restarts, end) - np.searchsorted(self.restarts, start))


def _check_jpeg_segments(data: bytes) -> None:
    """Walk the markers: lengths inside the file, an image header, and scans that hold enough data."""
    frame, scans, markers = _Frame(), [], None
    position = len(JPEG_SIGNATURE)
    while True:
        if position + 2 > len(data):
            raise DamagedImage("the JPEG file ends before its end marker (truncated)")
        if data[position] != 0xFF:
            raise DamagedImage("the JPEG file has stray bytes between its segments")
        while position + 1 < len(data) and data[position + 1] == 0xFF:
            position += 1  # fill bytes before a marker
        marker = data[position + 1]
        position += 2
        if marker == _EOI:
            break
        if marker in _STANDALONE_MARKERS:
            continue
        if position + 2 > len(data):
            raise DamagedImage("the JPEG file ends inside a segment header (truncated)")
        (length,) = struct.unpack(">H", data[position : position + 2])
        if length < 2 or position + length > len(data):
            raise DamagedImage("a JPEG segment is longer than the file (truncated or damaged)")
        segment = data[position + 2 : position + length]
        position += length
        if marker in _SOF_MARKERS:
            _read_frame(frame, marker, segment)
        elif marker == _APP1 and segment.startswith(_EXIF_HEADER):
            check_exif(segment[len(_EXIF_HEADER) :])
        elif marker == _DRI and len(segment) >= 2:
            frame.restart_interval = struct.unpack(">H", segment[:2])[0]
        elif marker == _SOS:
            markers = markers or _ByteMarkers.of(data)
            position = _read_scan(frame, segment, markers, len(data), position, scans)
    if not frame.components or not scans:
        raise DamagedImage("the JPEG file has no complete image header or image data")
    _check_scans_cover_image(frame, scans)
    if frame.progressive and not frame.arithmetic and scans[-1].spectral[0] > 0:
        _check_last_scan_reaches_the_end(data, frame, scans[-1])


def _read_frame(frame: _Frame, marker: int, segment: bytes) -> None:
    if len(segment) < 6:
        raise DamagedImage("the JPEG image header is cut short")
    frame.height, frame.width, count = struct.unpack(">HHB", segment[1:6])
    if frame.width == 0 or frame.height == 0 or len(segment) < 6 + 3 * count:
        raise DamagedImage("the JPEG image header is damaged")
    for index in range(count):
        ident, sampling = segment[6 + 3 * index], segment[7 + 3 * index]
        horizontal, vertical = sampling >> 4, sampling & 0x0F
        if not 1 <= horizontal <= 4 or not 1 <= vertical <= 4:
            raise DamagedImage("the JPEG image header is damaged")
        frame.components[ident] = (horizontal, vertical)
    frame.progressive = marker in _PROGRESSIVE_SOF
    frame.arithmetic = marker in _ARITHMETIC_SOF


@dataclass(frozen=True)
class _Scan:
    components: tuple[int, ...]
    spectral: tuple[int, int]
    approximation: tuple[int, int]
    """(Ah, Al): successive-approximation bit positions, high and low."""
    entropy_bytes: int
    restarts: int
    start: int
    """Offset of the scan's entropy-coded data (just after its header) in the file."""


def _read_scan(
    frame: _Frame, segment: bytes, markers: _ByteMarkers, size: int, position: int, scans: list[_Scan]
) -> int:
    """Record one scan and return the position of the marker after its entropy-coded data."""
    if not frame.components:
        raise DamagedImage("the JPEG image data comes before its header")
    count = segment[0] if segment else 0
    if count == 0 or len(segment) < 4 + 2 * count:
        raise DamagedImage("a JPEG scan header is damaged")
    components = tuple(segment[1 + 2 * index] for index in range(count))
    if any(component not in frame.components for component in components):
        raise DamagedImage("a JPEG scan names a component the image does not have")
    start, end, approximation = segment[1 + 2 * count], segment[2 + 2 * count], segment[3 + 2 * count]
    scan_end = markers.scan_end(position, size)
    restarts = markers.restarts_between(position, scan_end)
    scans.append(
        _Scan(
            components,
            (start, end),
            (approximation >> 4, approximation & 0x0F),
            scan_end - position,
            restarts,
            position,
        )
    )
    return scan_end


def _blocks(frame: _Frame, component: int) -> int:
    """8x8 blocks of one component (without the padding of interleaved scans)."""
    max_h = max(h for h, _ in frame.components.values())
    max_v = max(v for _, v in frame.components.values())
    horizontal, vertical = frame.components[component]
    width = math.ceil(frame.width * horizontal / max_h)
    height = math.ceil(frame.height * vertical / max_v)
    return math.ceil(width / 8) * math.ceil(height / 8)


def _mcus(frame: _Frame, scan: _Scan) -> int:
    """Minimum coded units in one scan: blocks for a one-component scan, else MCUs of the whole frame."""
    if len(scan.components) == 1:
        return _blocks(frame, scan.components[0])
    max_h = max(h for h, _ in frame.components.values())
    max_v = max(v for _, v in frame.components.values())
    return math.ceil(frame.width / (8 * max_h)) * math.ceil(frame.height / (8 * max_v))


def _check_scans_cover_image(frame: _Frame, scans: list[_Scan]) -> None:
    """Every coefficient of every component arrives at full precision, in scans long enough to hold it."""
    precision = {component: [None] * 64 for component in frame.components}
    for scan in scans:
        if frame.restart_interval and scan.restarts < math.ceil(_mcus(frame, scan) / frame.restart_interval) - 1:
            raise DamagedImage("a JPEG scan stops before its last restart marker (truncated)")
        start, end = (0, 63) if not frame.progressive else scan.spectral
        if start > end or end > 63:
            raise DamagedImage("a JPEG scan header is damaged")
        for component in scan.components:
            for coefficient in range(start, end + 1):
                precision[component][coefficient] = scan.approximation[1]
        if start == 0 and scan.approximation[0] == 0 and not frame.arithmetic:
            # A Huffman code is at least one bit, and every block starts with one.
            needed = sum(_blocks(frame, component) for component in scan.components) / 8
            if scan.entropy_bytes < needed:
                raise DamagedImage(
                    f"the JPEG header claims {frame.width}x{frame.height} pixels, more than its data can hold"
                )
    if any(bit != 0 for bits in precision.values() for bit in bits):
        raise DamagedImage("the JPEG file is missing part of its image data (truncated)")


def check_decoded_jpeg(image: Image.Image) -> None:
    """Raise DamagedImage when the decoded pixels end in libjpeg's flat grey fill for missing data.

    Blocks are decoded in rows from the top, so data that runs out leaves the
    end of the last pixel row grey; a real radiograph never ends in a run of
    exactly 128 in every channel.
    """
    if image.mode not in ("L", "RGB"):
        return
    last_row = np.frombuffer(image.crop((0, image.height - 1, image.width, image.height)).tobytes(), np.uint8)
    last_row = last_row.reshape(image.width, -1)
    grey = np.all(last_row == _GREY_FILL, axis=1)
    run = int(np.argmin(grey[::-1])) if not grey.all() else image.width
    if run >= min(_MIN_GREY_RUN, image.width):
        raise DamagedImage("the JPEG image data stops early; the rest of the picture is missing (truncated)")


def _check_last_scan_reaches_the_end(data: bytes, frame: _Frame, scan: _Scan) -> None:
    """Raise DamagedImage when a progressive JPEG's last scan stops part-way down the picture.

    A progressive file cut inside its last scan (with an end marker appended)
    holds every scan header, and the missing part only lacks fine detail, so
    neither the headers nor grey fill show it. Decoding with and without the
    last scan's data does: its blocks change from the top down to where the
    data ran out. An intact last scan leaves only flat blocks (a black border, which
    has no detail to add) unchanged at the end; a cut one leaves anatomy.
    """
    component = scan.components[0]
    channel = list(frame.components).index(component)
    if len(frame.components) not in (1, 3):
        return
    whole = _decoded_plane(data, channel)
    # The last scan's header stays, so libjpeg treats its coefficients as complete in both decodes and
    # smooths neither; only the data differs.
    without_last = _decoded_plane(data[: scan.start] + b"\xff\xd9", channel)
    if whole is None or without_last is None or whole.shape != without_last.shape:
        return
    max_h = max(h for h, _ in frame.components.values())
    max_v = max(v for _, v in frame.components.values())
    horizontal, vertical = frame.components[component]
    block_w, block_h = 8 * max_h // horizontal, 8 * max_v // vertical
    changed = _blocks_where(whole != without_last, block_w, block_h)
    last_changed = int(np.flatnonzero(changed.ravel())[-1]) if changed.any() else -1
    first_row = max(0, last_changed) // changed.shape[1]
    tail = whole[first_row * block_h :].astype(np.float32)
    texture = _block_std(tail, block_w, block_h).ravel()[last_changed + 1 - first_row * changed.shape[1] :]
    if int((texture > _TEXTURE_STD).sum()) >= _MIN_UNCHANGED_DETAILED_BLOCKS:
        raise DamagedImage("the JPEG image data stops early; the bottom of the picture is incomplete (truncated)")


def _decoded_plane(data: bytes, channel: int) -> np.ndarray | None:
    """One component of a JPEG decoded at full size, before colour conversion; None if it does not decode."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.mode == "RGB":
            image.draft("YCbCr", image.size)
        image.load()
    except (OSError, SyntaxError, ValueError):
        return None
    pixels = np.asarray(image)
    return pixels if pixels.ndim == 2 else pixels[..., channel]


def _padded_blocks(pixels: np.ndarray, block_w: int, block_h: int) -> np.ndarray:
    rows, cols = -(-pixels.shape[0] // block_h), -(-pixels.shape[1] // block_w)
    padded = np.pad(pixels, ((0, rows * block_h - pixels.shape[0]), (0, cols * block_w - pixels.shape[1])), "edge")
    return padded.reshape(rows, block_h, cols, block_w)


def _blocks_where(mask: np.ndarray, block_w: int, block_h: int) -> np.ndarray:
    return _padded_blocks(mask, block_w, block_h).any(axis=(1, 3))


def _block_std(pixels: np.ndarray, block_w: int, block_h: int) -> np.ndarray:
    return _padded_blocks(pixels, block_w, block_h).std(axis=(1, 3))
