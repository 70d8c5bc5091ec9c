"""Describe the machine a benchmark ran on.

Latency numbers mean nothing without the CPU, core count and library versions
behind them, so every result file carries this description.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import PIL

from edge_app.inference.runtime import load_runtime

_CPUINFO = Path("/proc/cpuinfo")
_MEMINFO = Path("/proc/meminfo")
_CPU_FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_vnni", "avx512vnni", "asimd", "asimddp", "neon")


def cpu_model(cpuinfo: str) -> str:
    """The CPU name from /proc/cpuinfo text (x86 "model name", ARM "Model" or "Hardware")."""
    for key in ("model name", "Model", "Hardware", "cpu model"):
        for line in cpuinfo.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or platform.machine()


def cpu_flags(cpuinfo: str) -> list[str]:
    """The SIMD features that decide which TFLite kernels are fast here."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            present = set(value.split())
            return [flag for flag in _CPU_FLAGS_OF_INTEREST if flag in present]
    return []


def memory_gib(meminfo: str) -> float | None:
    """Total memory in GiB (2^30 bytes) as the kernel reports it in /proc/meminfo; None when it does not say."""
    for line in meminfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "MemTotal" and value.split():
            return round(int(value.split()[0]) / 2**20, 1)
    return None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def describe_machine(device_label: str | None = None) -> dict:
    cpuinfo = _CPUINFO.read_text(errors="replace") if _CPUINFO.exists() else ""
    meminfo = _MEMINFO.read_text(errors="replace") if _MEMINFO.exists() else ""
    runtime = load_runtime()
    return {
        "device_label": device_label or platform.node(),
        "cpu_model": cpu_model(cpuinfo),
        "cpu_flags": cpu_flags(cpuinfo),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": memory_gib(meminfo),
        "architecture": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "runtime": {"name": runtime.name, "version": runtime.version},
        "tensorflow": _version("tensorflow-cpu") or _version("tensorflow"),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
    }
