"""Work on every core (per file, or per draw of a curve), results in input order: an output never
depends on how many workers made it (tests/test_workers.py runs a stage with one and with two)."""

import multiprocessing
import os
from collections import deque
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


def processes(workers: int | None) -> int:
    """Worker processes to start: `workers`, or with None one per core; 0 means every task runs in
    this process (so does None on a single core: a pool of one would only add the sending)."""
    if workers is None:
        workers = worker_count()
        return workers if workers > 1 else 0
    return workers


def in_order(task: Callable, items: Iterable, workers: int | None = None) -> Iterator:
    """task(item) for each item, computed by worker processes (see `processes`), yielded in the items' order."""
    items, workers = list(items), processes(workers)
    if workers == 0 or len(items) < 2:
        yield from map(task, items)
        return
    with ProcessPoolExecutor(min(workers, len(items))) as pool:
        yield from pool.map(task, items, chunksize=max(1, min(16, len(items) // (4 * workers))))


def streamed(task: Callable, items: Iterable, workers: int | None = None, ahead: int = 8,
             initializer: Callable | None = None, initargs: tuple = (), start: str | None = None) -> Iterator:
    """task(item) for each item as `items` makes it, computed by worker processes, yielded in the
    items' order: for items made one by one in this process while the workers finish them. At most
    `ahead` items per worker wait, so memory stays flat however many there are. `initializer(*initargs)`
    runs once in each worker (in this process without workers): data every task shares, sent once.

    workers: how many processes (see `processes`); 0: every task in this process.
    start: multiprocessing's start method; "forkserver" where this process holds threads (a model
    runtime's), which a fork would copy with their locks in whatever state they are.
    """
    workers = processes(workers)
    if workers == 0:
        if initializer:
            initializer(*initargs)
        yield from map(task, items)
        return
    context = multiprocessing.get_context(start) if start else None
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=initializer, initargs=initargs)
    try:
        waiting = deque()
        for item in items:
            waiting.append(pool.submit(task, item))
            if len(waiting) >= ahead * workers:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()
    finally:  # on an error, the items still waiting are dropped, not finished first
        pool.shutdown(cancel_futures=True)
