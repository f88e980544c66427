"""Handwriting for synthetic actas: how a juror lays a number out over a field's boxes, and each digit
drawn as pen ink from an MNIST **test-set** image (never one the classifier trained on).

A digit is cut to its ink, scaled to 50-72% of the box height, slanted and turned a little, placed off
the box's centre as people write, and blended into the form as blue or black ballpoint ink: MNIST's
shape, its strokes brought towards the pen's width (one pen per acta).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.idx import find_idx, read_idx

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
Rect = tuple[float, float, float, float]  # x, y, w, h

MNIST_TEST_IMAGES = "t10k-images-idx3-ubyte"  # the test split only: the model never trained on these
MNIST_TEST_LABELS = "t10k-labels-idx1-ubyte"
STYLES = ("zeros", "right", "left")  # 008, __8, 8__
STYLE_WEIGHTS = (0.7, 0.25, 0.05)  # real actas: mostly leading zeros, some leading blanks (field notes)
DIGIT_HEIGHT = (0.5, 0.72)  # of the box height
MARGIN = 0.1  # of the box size kept free of ink on each side (the printed border)
PEN_WIDTH = (1.8, 3.8)  # stroke width in reference-frame pixels (real scans: about 2-4)


@dataclass(frozen=True)
class MnistTest:
    """The MNIST test split: images (N, 28, 28) white on black, labels (N,), indices by label."""

    images: U8
    labels: npt.NDArray[np.int64]
    source: Path  # the images file read
    by_label: list[npt.NDArray[np.int64]] = field(repr=False)

    def pick(self, label: int, rng: np.random.Generator) -> int:
        """Index into the test split of a random image of `label`."""
        pool = self.by_label[label]
        return int(pool[int(rng.integers(len(pool)))])


def load_mnist_test(directory: Path) -> MnistTest:
    """MNIST's test split from its IDX files (`.gz` or plain) in `directory`; never the training split."""
    try:
        images_path = find_idx(directory, MNIST_TEST_IMAGES)
        labels_path = find_idx(directory, MNIST_TEST_LABELS)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"MNIST test files not found ({exc}); pass --mnist DIR or set ACTAS_MNIST_DIR") from exc
    images = np.asarray(read_idx(images_path), np.uint8)
    labels = np.asarray(read_idx(labels_path), np.int64)
    if images.ndim != 3 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{directory}: MNIST test images {images.shape} and labels {labels.shape} disagree")
    by_label = [np.nonzero(labels == d)[0].astype(np.int64) for d in range(10)]
    if any(len(b) == 0 for b in by_label):
        raise ValueError(f"{directory}: MNIST test split lacks some digit")
    return MnistTest(images, labels, images_path, by_label)


def layout(value: int | None, n_boxes: int, style: str) -> list[int | None]:
    """The digit written in each box (None: blank) for `value` in `style`; None leaves every box blank."""
    if value is None:
        return [None] * n_boxes
    text = str(value)
    if len(text) > n_boxes:
        raise ValueError(f"{value} does not fit in {n_boxes} boxes")
    if style == "zeros":
        return [int(c) for c in text.zfill(n_boxes)]
    digits: list[int | None] = [int(c) for c in text]
    pad: list[int | None] = [None] * (n_boxes - len(text))
    return pad + digits if style == "right" else digits + pad


def draw_style(rng: np.random.Generator) -> str:
    return str(STYLES[int(rng.choice(len(STYLES), p=STYLE_WEIGHTS))])


@dataclass(frozen=True)
class Pen:
    kind: str  # "blue" or "black"
    color: tuple[float, float, float]  # BGR
    width: float  # stroke width, reference-frame pixels
    opacity: float

    def record(self) -> dict[str, object]:
        return {"kind": self.kind, "color": [round(c) for c in self.color], "width": round(self.width, 2)}


def draw_pen(rng: np.random.Generator) -> Pen:
    """A ballpoint: mostly blue, sometimes black, of varied stroke width and pressure."""
    if rng.random() < 0.7:
        color = (float(rng.uniform(140, 200)), float(rng.uniform(45, 110)), float(rng.uniform(10, 60)))
        kind = "blue"
    else:
        g = float(rng.uniform(15, 60))
        color = (g + float(rng.uniform(0, 12)), g, g)
        kind = "black"
    return Pen(kind, color, float(rng.uniform(*PEN_WIDTH)), float(rng.uniform(0.8, 1.0)))


def draw_digit(canvas: U8, cell: Rect, digit: U8, pen: Pen, rng: np.random.Generator, scale: float = 1.0) -> None:
    """Write the 28x28 `digit` into `cell` (canvas pixels) of the BGR `canvas`, in place; `scale` is
    canvas pixels per reference-frame pixel (the pen's width is given in reference pixels)."""
    ys, xs = np.nonzero(digit > 40)
    if ys.size == 0:
        return
    x, y, w, h = cell
    bx, by = (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2  # the ink's centre in the digit
    bh, bw = float(ys.max() + 1 - ys.min()), float(xs.max() + 1 - xs.min())
    k = h * float(rng.uniform(*DIGIT_HEIGHT)) / bh
    shear = float(rng.uniform(-0.25, 0.15))  # most people slant to the right
    angle = np.deg2rad(float(rng.uniform(-6, 6)))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    lin = rot @ np.array([[k * float(rng.uniform(0.85, 1.15)), shear * k], [0.0, k]])
    # Fit the transformed ink box inside the cell's margins, then place it off-centre in the space left.
    corners = np.array([[-bw / 2, -bh / 2], [bw / 2, -bh / 2], [bw / 2, bh / 2], [-bw / 2, bh / 2]]) @ lin.T
    ext_w, ext_h = np.ptp(corners[:, 0]), np.ptp(corners[:, 1])
    room_w, room_h = w * (1 - 2 * MARGIN), h * (1 - 2 * MARGIN)
    fit = min(1.0, room_w / ext_w, room_h / ext_h)
    lin, ext_w, ext_h = lin * fit, ext_w * fit, ext_h * fit
    cx = x + w / 2 + float(rng.uniform(-0.5, 0.5)) * (room_w - ext_w)
    cy = y + h / 2 + float(rng.uniform(-0.4, 0.5)) * (room_h - ext_h)
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    x1, y1 = min(canvas.shape[1], int(np.ceil(x + w))), min(canvas.shape[0], int(np.ceil(y + h)))
    offset = np.array([cx - x0, cy - y0]) - lin @ np.array([bx, by])
    m = np.hstack([lin, offset[:, None]]).astype(np.float64)
    grey = cv2.warpAffine(digit.astype(np.float32) / 255.0, m, (x1 - x0, y1 - y0), flags=cv2.INTER_CUBIC)
    alpha = pen_stroke(np.asarray(grey, np.float32), pen.width * scale)
    pressure = cv2.resize(rng.uniform(0.75, 1.0, (3, 3)).astype(np.float32), (x1 - x0, y1 - y0))
    alpha = (alpha * pressure * pen.opacity)[..., None]
    roi = canvas[y0:y1, x0:x1].astype(np.float32)
    ink = np.array(pen.color, np.float32)[None, None, :]
    canvas[y0:y1, x0:x1] = np.clip(roi * (1 - alpha) + ink * alpha, 0, 255).astype(np.uint8)


def pen_stroke(grey: F32, width: float) -> F32:
    """The digit's shape redrawn towards a pen line `width` pixels wide, anti-aliased (0-1 coverage).

    MNIST's strokes range from hairline to marker; a ballpoint draws them more alike. The shape's signed
    distance to its outline is shifted by the difference between its measured and the wanted half-width:
    thin strokes grow to the pen's width, thick ones shrink by at most 30% so no part of the digit vanishes.
    (Tracing a centre line instead was measured worse: spurs and closed loops, 1-2% fewer digits read.)
    """
    # MNIST's writers pressed unevenly and its scans are faint in places: measured against the digit's
    # own darkest strokes, and grown from them through fainter connected pixels (hysteresis), the shape
    # stays whole where a fixed cut at 0.5 broke a faint `1` into dots (misread as blank, not as a
    # pen would draw it).
    ink = grey[grey > 0.1]
    if ink.size == 0:
        return np.zeros(grey.shape, np.float32)
    level = grey / max(float(np.percentile(ink, 90)), 0.5)
    n, labels, stats, _ = cv2.connectedComponentsWithStats((level > 0.25).astype(np.uint8), connectivity=8)
    seeded = np.zeros(n, bool)
    seeded[np.unique(labels[level > 0.5])] = True
    seeded[0] = False
    if not seeded.any():
        return np.zeros(grey.shape, np.float32)
    areas = np.where(seeded, stats[:, cv2.CC_STAT_AREA], 0)
    keep = areas >= 0.15 * areas.max()  # MNIST's stray specks would become dots
    keep[0] = False
    inside = keep[labels].astype(np.uint8)
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
    measured = 2 * float(np.percentile(d_in[inside > 0], 90)) / 0.9  # about the stroke's width at its core
    shift = float(np.clip((measured - width) / 2, -width / 2, 0.15 * measured))
    return np.clip(d_in - d_out - shift + 0.5, 0, 1).astype(np.float32)
