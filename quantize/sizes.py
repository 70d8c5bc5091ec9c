"""File sizes as a download sees them: raw bytes and gzip bytes.

Gzip at level 9 with a fixed timestamp, so the same file always gives the
same number. Pruned int8 weights are stored densely (TFLite runs them
densely), so pruning leaves the raw size unchanged; the zeros show up only in
the compressed size, which is what an update over a metered link costs.
"""

from __future__ import annotations

import gzip


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def size_entry(data: bytes) -> dict[str, int]:
    return {"raw_bytes": len(data), "gzip_bytes": gzip_size(data)}


def size_comparison(sizes: dict[str, dict[str, int]]) -> dict[str, float]:
    """The ratios the release criteria are stated in."""
    return {
        "int8_raw_vs_float32_raw": round(sizes["int8"]["raw_bytes"] / sizes["float32"]["raw_bytes"], 4),
        "pruned_int8_raw_vs_float32_raw": round(sizes["pruned_int8"]["raw_bytes"] / sizes["float32"]["raw_bytes"], 4),
        "pruned_int8_gzip_vs_int8_gzip": round(sizes["pruned_int8"]["gzip_bytes"] / sizes["int8"]["gzip_bytes"], 4),
    }
