"""The digit classifier's input contract, shared by training and inference.

Every digit the classifier sees, in training and in the pipeline, is produced by `center_digit`
and turned into a tensor by `to_model_input`. Keeping both here (NumPy and OpenCV only, no torch)
means the two sides cannot drift apart.

Contract (also written into the model card):
- single channel, INPUT_SIZE x INPUT_SIZE, white ink (high values) on black;
- the ink's bounding box is scaled so its longest side is DIGIT_EXTENT px, but a mark smaller than
  `min_extent` source pixels is scaled as if it were `min_extent` long, so a speck stays a speck instead
  of being blown up into a blob that looks like a digit;
- the ink's centre of mass sits at the centre of the canvas (MNIST's recipe: 20 px in 28, here padded
  by 2 px on each side to 32, the smallest input ConvNeXt-Tiny accepts);
- float input = (pixel / 255 - MEAN) / STD.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

INPUT_SIZE = 32
DIGIT_EXTENT = 20
MEAN = 0.5
STD = 0.5
CLASSES: tuple[str, ...] = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "blank")
BLANK = CLASSES.index("blank")
# Marks jurors write in a box that holds no digit, which a model may learn as classes after CLASSES
# (its card lists them). The reader folds them into `blank` on a form whose template names the mark
# (`no_digit_marks`), and nowhere else: on another form such a box is in doubt, not a digit.
MARKS: tuple[str, ...] = ("X",)

# Pixels at or below this level (of 255) are background when measuring the ink's extent.
_INK_LEVEL = 24

U8Image = npt.NDArray[np.uint8]
F32Array = npt.NDArray[np.float32]


def center_digit(ink: npt.NDArray[np.generic], min_extent: float = 0.0) -> U8Image:
    """Fit a white-on-black ink image into the classifier's canvas, MNIST-style.

    `ink` may be any size and dtype (uint8 0-255 or float 0-1 are both accepted). `min_extent` is, in
    source pixels, the smallest extent a real digit would have (a fraction of the box height); marks
    smaller than that are scaled as if they were that large. Returns INPUT_SIZE x INPUT_SIZE uint8.
    """
    img = _as_u8(ink)
    out = np.zeros((INPUT_SIZE, INPUT_SIZE), np.uint8)
    ys, xs = np.nonzero(img > _INK_LEVEL)
    if ys.size == 0:
        return out
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = img[y0:y1, x0:x1]
    h, w = crop.shape
    scale = DIGIT_EXTENT / max(h, w, min_extent, 1.0)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (nw, nh), interpolation=interp)

    mass = small.astype(np.float64)
    total = mass.sum()
    if total <= 0:
        return out
    cy = float((mass.sum(axis=1) * np.arange(nh)).sum() / total)
    cx = float((mass.sum(axis=0) * np.arange(nw)).sum() / total)
    # Place so the centre of mass lands on the canvas centre, clamped so nothing is cut off.
    top = int(np.clip(round(INPUT_SIZE / 2 - cy), 0, INPUT_SIZE - nh))
    left = int(np.clip(round(INPUT_SIZE / 2 - cx), 0, INPUT_SIZE - nw))
    out[top : top + nh, left : left + nw] = small
    return out


def to_model_input(digits: npt.NDArray[np.uint8]) -> F32Array:
    """Stack of (N, INPUT_SIZE, INPUT_SIZE) uint8 canvases -> (N, 1, S, S) float32 model input."""
    if digits.ndim == 2:
        digits = digits[None]
    x = digits.astype(np.float32) / 255.0
    return ((x - MEAN) / STD)[:, None, :, :].astype(np.float32)


def _as_u8(img: npt.NDArray[np.generic]) -> U8Image:
    if img.dtype == np.uint8:
        return np.ascontiguousarray(img)
    arr = img.astype(np.float32)
    if arr.size and float(arr.max()) <= 1.0:
        arr = arr * 255.0
    return np.clip(arr, 0, 255).astype(np.uint8)
