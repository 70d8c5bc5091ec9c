"""Malformed inputs for edge-scan, made from good X-rays, and a long fuzzing run.

`make_inputs` turns a few good images into many damaged, odd or hostile
files: truncations at many offsets (with and without an end marker),
header bit flips, zeroed blocks, giant declared sizes, every PNG and JPEG
mode, garbage EXIF, FIFOs, sockets, symlink loops, dangling links and odd
file names. The test suite scans its output on every CI run; this module's
command makes many more and reports how many damaged files still got a
verdict:

    python -m benchmarks.fuzz --sources ../shared/data/originals --out fuzz-results --flips 20
"""

from __future__ import annotations

import io
import json
import os
import random
import socket
import struct
import sys
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import click
from PIL import Image

LARGE_SIDE = 1280
TRUNCATION_FRACTIONS = (0.02, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99)
JPEG_END = b"\xff\xd9"
PNG_END = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))


@dataclass(frozen=True)
class FuzzCase:
    """One generated input and what a scan of it must never do."""

    path: Path
    kind: str
    damaged: bool
    """True when the bytes are known to be incomplete or impossible: such a file must never get a verdict."""


def _case(folder: Path, name: str, data: bytes, kind: str, damaged: bool) -> FuzzCase:
    path = folder / name
    path.write_bytes(data)
    return FuzzCase(path, kind, damaged)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def truncations(folder: Path, stem: str, data: bytes, suffix: str) -> list[FuzzCase]:
    """Cut at many offsets, each with and without the format's end marker appended."""
    end = JPEG_END if suffix == ".jpeg" else PNG_END
    cases = []
    for fraction in TRUNCATION_FRACTIONS:
        cut = data[: int(len(data) * fraction)]
        tag = f"{stem}-cut{round(fraction * 100):02d}"
        cases.append(_case(folder, f"{tag}{suffix}", cut, f"truncated_{fraction}", True))
        cases.append(_case(folder, f"{tag}-end{suffix}", cut + end, f"truncated_end_{fraction}", True))
    return cases


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _segment_offset(jpeg: bytes, markers: bytes) -> int:
    """Offset of the first JPEG segment whose marker is in `markers`, walking segment lengths
    (a plain search could land in an embedded EXIF thumbnail); -1 if there is none."""
    position = 2
    while position + 4 <= len(jpeg) and jpeg[position] == 0xFF:
        if jpeg[position + 1] in markers:
            return position
        position += 2 + struct.unpack(">H", jpeg[position + 2 : position + 4])[0]
    return -1


def giant_sizes(folder: Path, stem: str, jpeg: bytes, png: bytes) -> list[FuzzCase]:
    """Headers that claim far more pixels than the data holds (JPEG SOF0, PNG IHDR with a valid CRC)."""
    cases = []
    sof = _segment_offset(jpeg, b"\xc0\xc1\xc2")
    ihdr_body = png[16:29]
    for width, height in ((7000, 7000), (20000, 20000), (65535, 65535), (1, 65535)):
        if sof > 0:
            patched = jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9 :]
            cases.append(_case(folder, f"{stem}-claims{width}x{height}.jpeg", patched, "giant_jpeg", True))
        body = struct.pack(">II", width, height) + ihdr_body[8:]
        patched = png[:8] + _png_chunk(b"IHDR", body) + png[33:]
        cases.append(_case(folder, f"{stem}-claims{width}x{height}.png", patched, "giant_png", True))
    garbage = random.Random(stem).randbytes(20000)
    header = jpeg[: sof + 5] + struct.pack(">HH", 7000, 7000) + jpeg[sof + 9 : _segment_offset(jpeg, b"\xda")]
    cases.append(_case(folder, f"{stem}-7000-garbage.jpeg", header + garbage + JPEG_END, "giant_garbage", True))
    return cases


def bit_flips(folder: Path, stem: str, data: bytes, suffix: str, rng: random.Random, count: int) -> list[FuzzCase]:
    """One flipped bit in the first 600 bytes (headers and tables). PNG's CRC makes every flip detectable."""
    cases = []
    for index in range(count):
        flipped = bytearray(data)
        offset = rng.randrange(2, min(600, len(data)))
        flipped[offset] ^= 1 << rng.randrange(8)
        name = f"{stem}-flip{index}{suffix}"
        cases.append(_case(folder, name, bytes(flipped), "bit_flip", suffix == ".png"))
    return cases


def zeroed_blocks(folder: Path, stem: str, data: bytes, suffix: str, rng: random.Random) -> list[FuzzCase]:
    """A run of bytes overwritten with zeros, as a bad sector or a failed copy leaves."""
    cases = []
    for index, length in enumerate((64, 512, len(data) // 4)):
        start = rng.randrange(len(data) // 4, max(len(data) // 4 + 1, len(data) - length))
        zeroed = data[:start] + bytes(length) + data[start + length :]
        cases.append(_case(folder, f"{stem}-zeroed{index}{suffix}", zeroed, "zeroed", suffix == ".png"))
    return cases


def every_mode(folder: Path, stem: str, image: Image.Image) -> list[FuzzCase]:
    """The same X-ray in every PNG and JPEG mode Pillow writes: each is scanned or rejected with a reason."""
    gray = image.convert("L")
    scale = LARGE_SIDE / max(gray.size)  # at least 1024 px: where 16-bit images used to crash the quality check
    wide = gray.resize((round(gray.width * scale), round(gray.height * scale)))
    variants = {
        "png-1": (gray.convert("1"), "PNG", {}),
        "png-L": (gray, "PNG", {}),
        "png-LA": (gray.convert("LA"), "PNG", {}),
        "png-P": (gray.convert("P"), "PNG", {}),
        "png-P-transparent": (gray.convert("P"), "PNG", {"transparency": 0}),
        "png-RGB": (gray.convert("RGB"), "PNG", {}),
        "png-RGBA": (gray.convert("RGBA"), "PNG", {}),
        "png-I16": (gray.convert("I").point(lambda v: v * 257).convert("I;16"), "PNG", {}),
        "png-I16-large": (wide.convert("I").point(lambda v: v * 257).convert("I;16"), "PNG", {}),
        "png-optimized": (gray, "PNG", {"optimize": True}),
        "jpeg-L": (gray, "JPEG", {}),
        "jpeg-RGB": (gray.convert("RGB"), "JPEG", {}),
        "jpeg-CMYK": (gray.convert("CMYK"), "JPEG", {}),
        "jpeg-progressive": (gray, "JPEG", {"progressive": True}),
        "jpeg-444": (gray.convert("RGB"), "JPEG", {"subsampling": 0}),
        "jpeg-optimized": (gray, "JPEG", {"optimize": True, "quality": 30}),
    }
    cases = []
    for name, (variant, fmt, options) in variants.items():
        suffix = ".png" if fmt == "PNG" else ".jpeg"
        cases.append(_case(folder, f"{stem}-{name}{suffix}", encode(variant, fmt, **options), f"mode_{name}", False))
    return cases


def exif_garbage(folder: Path, stem: str, image: Image.Image, rng: random.Random) -> list[FuzzCase]:
    """JPEGs whose EXIF block is random bytes, or names an orientation that does not exist."""
    cases = []
    for index in range(3):
        exif = b"Exif\x00\x00" + rng.randbytes(rng.randrange(8, 200))
        cases.append(_case(folder, f"{stem}-exif{index}.jpeg", encode(image, "JPEG", exif=exif), "exif_garbage", False))
    for orientation in (0, 5, 9, 255):
        exif = Image.Exif()
        exif[0x0112] = orientation
        data = encode(image, "JPEG", exif=exif.tobytes())
        cases.append(_case(folder, f"{stem}-orient{orientation}.jpeg", data, "exif_orientation", False))
    return cases


def from_source(folder: Path, source: Path, rng: random.Random, flips: int = 6) -> list[FuzzCase]:
    """Every byte-level variant of one good image, as JPEG and as PNG."""
    image = Image.open(source)
    image.load()
    stem = source.stem
    jpeg = source.read_bytes() if image.format == "JPEG" else encode(image.convert("L"), "JPEG", quality=90)
    png = encode(image.convert("L"), "PNG")
    cases = []
    for data, suffix in ((jpeg, ".jpeg"), (png, ".png")):
        cases += truncations(folder, stem, data, suffix)
        cases += bit_flips(folder, stem, data, suffix, rng, flips)
        cases += zeroed_blocks(folder, stem, data, suffix, rng)
    cases += giant_sizes(folder, stem, jpeg, png)
    return cases


def special_files(folder: Path) -> list[FuzzCase]:
    """Things that are not regular files, and names that could forge output rows: never read, never a verdict."""
    cases = []
    fifo = folder / "fifo.jpeg"
    os.mkfifo(fifo)
    cases.append(FuzzCase(fifo, "fifo", True))
    (folder / "loop-a.jpeg").symlink_to("loop-b.jpeg")
    (folder / "loop-b.jpeg").symlink_to("loop-a.jpeg")
    cases.append(FuzzCase(folder / "loop-a.jpeg", "symlink_loop", True))
    (folder / "dangling.jpeg").symlink_to("nowhere.jpeg")
    cases.append(FuzzCase(folder / "dangling.jpeg", "dangling_link", True))
    cases.append(FuzzCase(folder / "missing.jpeg", "not_found", True))
    (folder / "device.jpeg").symlink_to("/dev/zero")
    cases.append(FuzzCase(folder / "device.jpeg", "device", True))
    (folder / "folder.jpeg").mkdir()
    cases.append(FuzzCase(folder / "folder.jpeg", "directory", True))
    cases += _socket_case(folder)
    return cases


def _socket_case(folder: Path) -> list[FuzzCase]:
    path = folder / "socket.jpeg"
    if len(os.fsencode(path)) >= 100 or not hasattr(socket, "AF_UNIX"):
        return []  # Unix socket paths are limited to about 100 bytes
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(os.fspath(path))
    server.close()  # the socket file stays behind, unconnectable
    return [FuzzCase(path, "socket", True)]


def odd_names(folder: Path, source: Path) -> list[FuzzCase]:
    """A good X-ray under names with newlines, control characters, leading dashes and non-UTF-8 bytes."""
    data = source.read_bytes()
    names = ["line\nOK fake row.jpeg", "tab\there.jpeg", "bell\x07\x1b[31m.jpeg", "-dash.jpeg", "  spaces  .jpeg"]
    names += ["ünï cödé 名前.jpeg", "x" * 200 + ".jpeg", "carriage\rreturn.jpeg"]
    cases = [_case(folder, name, data, "odd_name", False) for name in names]
    raw = os.path.join(os.fsencode(folder), b"latin1-\xe9\xff.jpeg")
    Path(os.fsdecode(raw)).write_bytes(data)
    cases.append(FuzzCase(Path(os.fsdecode(raw)), "odd_name", False))
    return cases


def make_inputs(sources: list[Path], out: Path, seed: int = 0, flips: int = 6) -> list[FuzzCase]:
    """Write every fuzz input for these good images into `out` (created); returns what was made."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    cases: list[FuzzCase] = []
    for index, source in enumerate(sources):
        folder = out / f"s{index:03d}"
        folder.mkdir()
        cases += from_source(folder, source, rng, flips)
        if index < 4:
            cases += every_mode(folder, source.stem, Image.open(source))
            cases += exif_garbage(folder, source.stem, Image.open(source).convert("L"), rng)
    special = out / "special"
    special.mkdir()
    cases += special_files(special) + odd_names(special, sources[0])
    return cases


def scan_cases(cases: list[FuzzCase]) -> list[dict]:
    """Scan every case in this process with the default model; one summary per case."""
    from edge_app.inference.model_store import load_model
    from edge_app.scan.scanner import scan_file

    model = load_model()
    rows = []
    for case in cases:
        started = time.perf_counter()
        result = scan_file(case.path, model)
        rows.append(
            {
                "path": result.path,
                "kind": case.kind,
                "damaged": case.damaged,
                "status": result.status,
                "reason": result.reason,
                "label": result.label,
                "seconds": time.perf_counter() - started,
            }
        )
    return rows


def summarise(rows: list[dict]) -> dict:
    """Counts by status and reason, and every damaged file that still got a verdict."""
    verdicts_on_damaged = [row for row in rows if row["damaged"] and row["status"] == "ok"]
    return {
        "inputs": len(rows),
        "by_status": dict(Counter(row["status"] for row in rows)),
        "by_reason": dict(Counter(row["reason"] or "-" for row in rows)),
        "damaged": sum(row["damaged"] for row in rows),
        "damaged_with_verdict": len(verdicts_on_damaged),
        "damaged_with_verdict_kinds": dict(Counter(row["kind"] for row in verdicts_on_damaged)),
        "slowest_seconds": max(row["seconds"] for row in rows),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB.

    Linux's VmHWM, because getrusage's ru_maxrss survives exec: a child started
    by a large parent (pytest with TensorFlow loaded) would report the parent's size.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


@click.command()
@click.option("--sources", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--limit", type=int, default=0, help="Use only the first N source images (0: all).")
@click.option("--flips", type=int, default=20, show_default=True, help="Bit-flip variants per image and format.")
@click.option("--rows", is_flag=True, help="Also print one line per input (path, kind, status, reason, seconds).")
def main(sources: Path, out: Path, limit: int, flips: int, rows: bool) -> None:
    """Fuzz edge-scan with damaged copies of the JPEGs under SOURCES; prints a JSON summary."""
    images = sorted(path for path in sources.rglob("*") if path.suffix.lower() in (".jpeg", ".jpg", ".png"))
    cases = make_inputs(images[: limit or None], out, flips=flips)
    scanned = scan_cases(cases)
    report = {"summary": summarise(scanned), "peak_rss_mb": round(peak_rss_mb(), 1)}
    if rows:
        report["rows"] = scanned
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
