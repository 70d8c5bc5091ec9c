"""Run a function over items in worker threads, yielding results in input order, with bounded memory.

Reading and decoding X-rays is I/O and Pillow's C code, which release the GIL,
so threads use every core; the model itself runs in the caller's thread.
At most `in_flight` items are submitted ahead of the one being consumed, so a
batch of ten thousand images holds a handful of decoded images, not all of them.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_DEFAULT_JOBS = 4
"""More decode threads than this gain nothing on Raspberry Pi-class CPUs and cost memory."""


def default_jobs() -> int:
    """This machine's usable CPU count, at most MAX_DEFAULT_JOBS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # Windows and macOS have no affinity call
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_JOBS))


def ordered_map(
    function: Callable[[Item], Result], items: Iterable[Item], jobs: int, in_flight: int | None = None
) -> Iterator[Result]:
    """`map(function, items)` on `jobs` threads (no thread at all for jobs=1), in order.

    `function` must not raise: an exception in a worker is re-raised here and ends the run.
    """
    if jobs <= 1:
        yield from map(function, items)
        return
    limit = in_flight or 2 * jobs
    pending: deque[Future[Result]] = deque()
    source = iter(items)
    executor = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="pneumoscan-read")
    try:
        for item in source:
            pending.append(executor.submit(function, item))
            if len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
