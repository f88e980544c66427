"""Harvested real digits (`actas harvest build`) as training and evaluation data.

The dataset's canvases are already the classifier's input (the pipeline made them), so training only
adds small distortions that a scan of another acta could bring: a slight rotation, scale and shift,
thinner or thicker strokes, and the scan nuisances the synthetic digits get. Which scans are used is
decided by the manifest's `split` (by scan, never by digit). Boxes a reviewer gave a value to in the
service (`python -m service.review.harvest`) are training data too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Dataset

from pipeline.cells import segment_cell
from pipeline.digit_input import INPUT_SIZE, to_model_input
from training.data.augment import add_scan_nuisance

U8 = npt.NDArray[np.uint8]
# Label sources that do not come from a model (`actas.harvest`; the service's reviewed boxes): the only
# ones a model may be judged on. `checked` labels (the reader's own vouched readings) train only.
JUDGING_SOURCES = frozenset({"truth", "hand", "review"})


@dataclass(frozen=True)
class RealDigits:
    """Canvases (N, S, S) uint8, class indices, and the scan each came from."""

    canvases: U8
    labels: npt.NDArray[np.int64]
    scans: list[str]  # sha256 per item
    sources: list[str]  # label source per item: truth, hand, checked, review

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def load_real(
    datasets: Sequence[Path], classes: Sequence[str], split: str | None, from_sources: Collection[str] | None = None
) -> RealDigits:
    """Every labelled box of `split` ('train', 'heldout'; None: both) whose label is one of `classes`
    (and, given `from_sources`, whose label came from one of them).

    Reads `actas harvest build` datasets and the service's reviewed boxes (`python -m
    service.review.harvest`: crops only, `_` for blank, no split: training data, its canvases made here
    by the pipeline's own segmentation). A scan held out in any of the datasets is never trained on."""
    index = {c: i for i, c in enumerate(classes)}
    manifests = []
    for root in datasets:
        manifest = root / "manifest.jsonl"
        if not manifest.is_file():
            raise FileNotFoundError(f"{manifest}: not a harvested dataset (run `actas harvest build`)")
        manifests.append((root, [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]))
    held = {scan_sha(row) for _, rows in manifests for row in rows if row.get("split") == "heldout"}
    canv: list[U8] = []
    labels: list[int] = []
    scans: list[str] = []
    sources: list[str] = []
    for root, rows in manifests:
        for row in rows:
            label = "blank" if row["label"] == "_" else row["label"]
            row_split = row.get("split", "train")
            if label is None or label not in index or (split and row_split != split):
                continue
            if from_sources is not None and row.get("source", "review") not in from_sources:
                continue
            if row_split == "train" and scan_sha(row) in held:
                continue
            canv.append(_canvas(root, row))
            labels.append(index[label])
            scans.append(scan_sha(row))
            sources.append(row["source"])
    empty = np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.uint8)
    return RealDigits(np.stack(canv) if canv else empty, np.asarray(labels, np.int64), scans, sources)


def scan_sha(row: dict[str, object]) -> str:
    """A manifest row's scan: `sha256` in a harvested dataset, `scan_sha256` in the service's export."""
    return str(row.get("sha256") or row["scan_sha256"])


def _canvas(root: Path, row: dict[str, object]) -> U8:
    if "canvas" in row:
        img = cv2.imread(str(root / str(row["canvas"])), cv2.IMREAD_GRAYSCALE)
        if img is None or img.shape != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"{root / str(row['canvas'])}: missing or not a {INPUT_SIZE}px canvas")
        return np.asarray(img, np.uint8)
    crop = cv2.imread(str(root / str(row["crop"])), cv2.IMREAD_COLOR)  # a reviewed box: the scan's own pixels
    if crop is None:
        raise ValueError(f"{root / str(row['crop'])}: missing or not an image")
    return segment_cell(np.asarray(crop, np.uint8), (0, 0, crop.shape[1], crop.shape[0])).canvas


def scan_share(sha256: str, seed: int) -> float:
    """Where a scan falls in [0, 1), by its content and `seed`: a share of scans picked this way stays
    the same as other scans join (used to keep some training scans for validation)."""
    return int(hashlib.sha256(f"{seed}:{sha256}".encode()).hexdigest()[:8], 16) / 2**32


def jitter(canvas: U8, rng: np.random.Generator) -> U8:
    """A real canvas as another scan might have given it (an empty canvas stays empty)."""
    if not canvas.any():
        return add_scan_nuisance(canvas, rng) if rng.random() < 0.5 else canvas
    s = INPUT_SIZE
    m = np.asarray(
        cv2.getRotationMatrix2D((s / 2, s / 2), float(rng.uniform(-8, 8)), float(rng.uniform(0.9, 1.1))), np.float64
    )
    m[:, 2] += rng.uniform(-1.5, 1.5, size=2)
    out = cv2.warpAffine(canvas, m, (s, s), flags=cv2.INTER_LINEAR, borderValue=0)
    k = rng.random()
    if k < 0.2:
        out = cv2.dilate(out, np.ones((2, 2), np.uint8))
    elif k < 0.35:
        out = cv2.erode(out, np.ones((2, 2), np.uint8))
    return add_scan_nuisance(np.asarray(out, np.uint8), rng) if rng.random() < 0.5 else np.asarray(out, np.uint8)


class RealTrainSet(Dataset[tuple[torch.Tensor, int]]):
    """The real digits, each `repeat` times per epoch, jittered; randomness from (seed, epoch, index)."""

    def __init__(self, real: RealDigits, repeat: int, seed: int) -> None:
        self.real, self.repeat, self.seed, self.epoch = real, max(1, repeat), seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.real) * self.repeat

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        rng = np.random.default_rng((self.seed, self.epoch, i, 7))
        j = i % len(self.real)
        canvas = self.real.canvases[j] if i < len(self.real) else jitter(self.real.canvases[j], rng)
        return torch.from_numpy(to_model_input(canvas)[0]), int(self.real.labels[j])
