"""`actas ingest --engine ray`: read the work with Ray Data, on a local Ray or a running cluster (`--address`).

The work items become a dataset (one block per acta, so each outcome streams back as soon as it is read);
a pool of actors, each holding one reader built inside the actor (one onnxruntime and OpenCV thread: one
actor per core), reads them (the whole read: fetching the bytes, rendering a PDF page, decoding,
registration, cells, classification, checks); outcomes come back in completion order and the caller
records them as they come, as with the local engine. Where the cluster has GPUs (and --cpu is not given),
each actor asks for its share of them and its reader prefers CUDA.

Ray is imported here only: the service and the local engine never load it. On a cluster, every node
needs this package (the same version) and the model at the same path; object-store URIs in the inputs
are read by the actors through pyarrow.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from actas.ingest.errors import StopIngest
from actas.ingest.items import Outcome, WorkItem, read_item
from pipeline.config import ReaderConfig


@dataclass(frozen=True)
class RayOptions:
    actors: int | None = None  # None: one per CPU of the cluster (or per CPU sharing its GPUs)
    config: ReaderConfig = field(default_factory=ReaderConfig)  # each actor's reader (threads set to 1)
    template: str | None = None
    address: str | None = None  # a running cluster to join; None: start a local one (or use the one running here)
    num_cpus: int | None = None  # a local Ray's CPUs; None: those of this process


def _item_json(i: int, item: WorkItem) -> str:
    return json.dumps({"i": i, "path": str(item.path), "sha256": item.sha256, "page": item.page, "uri": item.uri})


def _item_of(text: str) -> WorkItem:
    from pathlib import Path

    d = json.loads(text)
    return WorkItem(Path(d["path"]), d["sha256"], d["page"], uri=d["uri"])


class ReaderActor:
    """One reader per actor, built once in the actor's own process."""

    def __init__(self, config: ReaderConfig, template: str | None) -> None:
        import cv2

        from pipeline.reader import ActaReader

        cv2.setNumThreads(1)
        self.reader = ActaReader.from_config(dataclasses.replace(config, threads=1))
        self.template = template

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        index, readings, errors = [], [], []
        for i, text in zip(batch["i"], batch["item"], strict=True):
            o = read_item(self.reader, _item_of(str(text)), self.template)
            index.append(int(i))
            # The reading as JSON text: nested documents would become Arrow structs (keys merged across rows).
            readings.append("" if o.reading is None else json.dumps(o.reading, ensure_ascii=False))
            errors.append(o.error or "")
        return {
            "i": np.array(index, dtype=np.int64),
            "reading": np.array(readings, dtype=object),
            "error": np.array(errors, dtype=object),
        }


def _start(opts: RayOptions) -> bool:
    """Join or start Ray; True when this call started it (and must shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    if opts.address:
        ray.init(address=opts.address, logging_level=logging.WARNING, log_to_driver=False)
    else:
        ray.init(num_cpus=opts.num_cpus, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    return True


def _resources(opts: RayOptions, n_items: int) -> tuple[int, float, ReaderConfig]:
    """(actors, GPUs per actor, the actors' reader config) for this cluster."""
    import ray

    cluster = ray.cluster_resources()
    cpus, gpus = int(cluster.get("CPU", 1)), float(cluster.get("GPU", 0))
    use_gpu = opts.config.prefer_gpu and gpus >= 1
    actors = max(1, min(opts.actors or max(1, cpus), n_items))
    per_actor = min(1.0, int(gpus / actors * 1000) / 1000) if use_gpu else 0.0
    return actors, per_actor, dataclasses.replace(opts.config, prefer_gpu=use_gpu)


def run_ray(items: Sequence[WorkItem], opts: RayOptions) -> Generator[Outcome, None, None]:
    """Outcomes in completion order, streamed as the actors finish them; closing the iterator stops the job
    (and the local Ray this started)."""
    import ray
    import ray.data

    started = _start(opts)
    try:
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # execution plans, "progress bars disabled"
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the command has its own
        ctx.execution_options.preserve_order = False
        actors, gpus, config = _resources(opts, len(items))
        rows: list[dict[str, Any]] = [{"i": i, "item": _item_json(i, it)} for i, it in enumerate(items)]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            ReaderActor,
            fn_constructor_args=(config, opts.template),
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=1,
            num_gpus=gpus or None,
        )
        try:
            for row in ds.iter_rows():
                item = items[int(row["i"])]
                reading, error = str(row["reading"] or ""), str(row["error"] or "")
                yield Outcome(item, reading=json.loads(reading)) if reading else Outcome.failed(item, error)
        except Exception as exc:  # an actor that cannot start or keeps dying: stop, keep what is read
            raise StopIngest(f"the Ray job failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if started:
            ray.shutdown()
