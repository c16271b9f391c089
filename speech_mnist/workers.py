"""Per-file work on every core, results in input order: an output never depends on how many
workers made it (tests/test_workers.py runs a stage with one and with two)."""

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from .errors import UserError

WORKERS_VARIABLE = "SPEECH_MNIST_WORKERS"  # not a parameter: changing it must not re-run a stage


def worker_count() -> int:
    """$SPEECH_MNIST_WORKERS, or one worker per core."""
    value = os.environ.get(WORKERS_VARIABLE, "")
    if not value:
        return len(os.sched_getaffinity(0))
    if not value.isdigit() or int(value) < 1:
        raise UserError(f"{WORKERS_VARIABLE}={value!r}: give a whole number of workers, 1 or more")
    return int(value)


def in_order(task: Callable, items: Iterable, workers: int | None = None) -> Iterator:
    """task(item) for each item, computed by `workers` processes, yielded in the items' order."""
    items, workers = list(items), workers or worker_count()
    if workers == 1 or len(items) < 2:
        yield from map(task, items)
        return
    with ProcessPoolExecutor(min(workers, len(items))) as pool:
        yield from pool.map(task, items, chunksize=max(1, min(16, len(items) // (4 * workers))))
