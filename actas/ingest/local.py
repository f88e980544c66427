"""Read the work in worker processes, each with its own reader loaded once; outcomes return to the parent.

Spawned workers (onnxruntime and OpenCV do not survive fork well) ignore Ctrl-C: the parent decides when
to stop. A worker that dies (a crash, the OOM killer) fails the items it held and a fresh pool goes on.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import signal
from collections import deque
from collections.abc import Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from actas.ingest.errors import StopIngest
from actas.ingest.items import Outcome, WorkItem, read_item
from pipeline.config import ReaderConfig, cpu_count

if TYPE_CHECKING:
    from pipeline.reader import ActaReader


@dataclass(frozen=True)
class LocalOptions:
    workers: int
    config: ReaderConfig = field(default_factory=ReaderConfig)  # each worker's reader (threads set per worker)
    template: str | None = None


_reader: ActaReader | None = None
_template: str | None = None


def _init_worker(opts: LocalOptions, threads: int) -> None:
    import cv2

    from pipeline.reader import ActaReader

    global _reader, _template
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(threads)
    _reader = ActaReader.from_config(dataclasses.replace(opts.config, threads=threads))
    _template = opts.template


def _read(item: WorkItem) -> Outcome:
    assert _reader is not None, "worker not initialised"
    return read_item(_reader, item, _template)


def run_local(items: Sequence[WorkItem], opts: LocalOptions) -> Generator[Outcome, None, None]:
    """Outcomes in completion order; closing the iterator (Ctrl-C included) cancels what is queued."""
    workers = max(1, min(opts.workers, len(items)))
    threads = max(1, cpu_count() // workers)  # N workers on N cores: one thread each, no oversubscription
    pending = deque(items)
    fruitless = 0  # pools in a row that died before reading anything
    while pending:
        pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, initargs=(opts, threads)
        )
        in_flight: dict[Future[Outcome], WorkItem] = {}
        broken = productive = False
        try:
            while (pending and not broken) or in_flight:
                while pending and not broken and len(in_flight) < 2 * workers:
                    item = pending.popleft()
                    try:
                        in_flight[pool.submit(_read, item)] = item
                    except BrokenProcessPool:
                        pending.appendleft(item)
                        broken = True
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for fut in done:
                    item = in_flight.pop(fut)
                    try:
                        outcome = fut.result()
                        productive = True
                    except BrokenProcessPool:
                        broken = True
                        outcome = Outcome.failed(
                            item, "the worker process died while reading it (crash or out of memory)"
                        )
                    yield outcome
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        fruitless = 0 if productive else fruitless + 1
        if fruitless >= 2 and pending:
            raise StopIngest("the worker processes die before reading anything (see the messages above)")
