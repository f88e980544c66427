"""Augmentation that makes MNIST digits look like digits cut from scanned actas.

The pipeline crops a vote box, removes its border, and hands the ink to `center_digit`. So here a
training digit is distorted at 2x resolution (pen style, slant, thickness), then passed through the
same `center_digit`, then given the nuisances that survive the pipeline: blur, uneven ink, noise,
specks and fragments of the printed box border along the edges.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.digit_input import INPUT_SIZE, center_digit

U8 = npt.NDArray[np.uint8]
_UP = 2  # work at 2x MNIST's resolution so thickness and strokes change smoothly
_CANVAS = 28 * _UP * 2


def augment_digit(digit28: U8, label: int, rng: np.random.Generator) -> U8:
    """One augmented, centred INPUT_SIZE canvas from a 28x28 MNIST-style digit."""
    big = np.zeros((_CANVAS, _CANVAS), np.uint8)
    up = cv2.resize(digit28, (28 * _UP, 28 * _UP), interpolation=cv2.INTER_LINEAR)
    o = (_CANVAS - 28 * _UP) // 2
    big[o : o + 28 * _UP, o : o + 28 * _UP] = up
    big = _pen_style(big, label, rng)
    big = _affine(big, rng)
    big = _thickness(big, rng)
    out = center_digit(big)
    return add_scan_nuisance(out, rng)


def add_scan_nuisance(canvas: U8, rng: np.random.Generator) -> U8:
    """Blur, ink contrast, small shift, border fragments, specks, noise on a centred canvas."""
    img = canvas.astype(np.float32)
    if rng.random() < 0.5:
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 0.9))), np.float32)
    if rng.random() < 0.5:  # faint or uneven ink
        img = img * float(rng.uniform(0.55, 1.0))
    if rng.random() < 0.3:
        dx, dy = rng.integers(-2, 3, size=2)
        img = np.roll(img, (int(dy), int(dx)), axis=(0, 1))
    if rng.random() < 0.25:
        draw_edge_fragments(img, rng, n_edges=int(rng.integers(1, 3)))
    if rng.random() < 0.15:
        draw_specks(img, rng, n=int(rng.integers(1, 3)))
    if rng.random() < 0.5:
        img = img + rng.normal(0.0, float(rng.uniform(2, 12)), img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def draw_edge_fragments(img: npt.NDArray[np.float32], rng: np.random.Generator, n_edges: int) -> None:
    """Pieces of the printed box border left along the canvas edges (in place)."""
    s = INPUT_SIZE
    for edge in rng.choice(4, size=min(n_edges, 4), replace=False):
        length = int(rng.integers(s // 4, s + 1))
        start = int(rng.integers(0, s - length + 1))
        off = int(rng.integers(0, 3))
        thick = int(rng.integers(1, 3))
        value = float(rng.uniform(90, 255))
        if edge == 0:
            img[off : off + thick, start : start + length] = value
        elif edge == 1:
            img[s - off - thick : s - off, start : start + length] = value
        elif edge == 2:
            img[start : start + length, off : off + thick] = value
        else:
            img[start : start + length, s - off - thick : s - off] = value


def draw_specks(img: npt.NDArray[np.float32], rng: np.random.Generator, n: int) -> None:
    """Small dots of dust or pen-tip contact (in place)."""
    for _ in range(n):
        cx, cy = (int(v) for v in rng.integers(0, INPUT_SIZE, size=2))
        cv2.circle(img, (cx, cy), int(rng.integers(0, 2)), float(rng.uniform(80, 255)), -1)


def _stroke_width(img: U8) -> int:
    ink = (img > 100).astype(np.uint8)
    if not ink.any():
        return 2
    dist = cv2.distanceTransform(ink, cv2.DIST_L2, 3)
    return max(2, int(round(2 * float(np.percentile(dist[ink > 0], 90)))))


def _pen_style(img: U8, label: int, rng: np.random.Generator) -> U8:
    """How jurors are taught to write on Bolivian actas: the `1` with a flag (and sometimes a foot),
    the `7` with a bar. MNIST has few of these."""
    ys, xs = np.nonzero(img > 100)
    if ys.size == 0:
        return img
    w = _stroke_width(img)
    top, bottom = int(ys.min()), int(ys.max())
    h = bottom - top
    if label == 1 and rng.random() < 0.45:
        top_x = int(xs[ys <= top + 2].mean())
        angle = math.radians(float(rng.uniform(20, 55)))  # below horizontal, towards the left
        length = h * float(rng.uniform(0.25, 0.5))
        end = (int(top_x - length * math.cos(angle)), int(top + length * math.sin(angle)))
        cv2.line(img, (top_x, top), end, 255, w, cv2.LINE_AA)
        if rng.random() < 0.3:
            bot_x = int(xs[ys >= bottom - 2].mean())
            half = int(h * float(rng.uniform(0.15, 0.3)))
            cv2.line(img, (bot_x - half, bottom), (bot_x + half, bottom), 255, w, cv2.LINE_AA)
    elif label == 7 and rng.random() < 0.4:
        mid = top + int(h * float(rng.uniform(0.45, 0.6)))
        row = xs[np.abs(ys - mid) <= 2]
        if row.size:
            cx = int(row.mean())
            half = int(h * float(rng.uniform(0.15, 0.28)))
            cv2.line(img, (cx - half, mid), (cx + half, mid), 255, w, cv2.LINE_AA)
    return img


def _affine(img: U8, rng: np.random.Generator) -> U8:
    c = _CANVAS / 2
    angle = float(rng.uniform(-15, 15))
    shear = float(rng.uniform(-0.3, 0.3))
    sx, sy = float(rng.uniform(0.75, 1.15)), float(rng.uniform(0.85, 1.15))
    rot = cv2.getRotationMatrix2D((c, c), angle, 1.0)
    a = np.array([[sx, shear * sx, 0.0], [0.0, sy, 0.0]])
    m = rot[:, :2] @ a[:, :2]
    t = np.array([c, c]) - m @ np.array([c, c])
    mat = np.hstack([m, t[:, None]]).astype(np.float64)
    return np.asarray(cv2.warpAffine(img, mat, (_CANVAS, _CANVAS), flags=cv2.INTER_LINEAR, borderValue=0), np.uint8)


def _thickness(img: U8, rng: np.random.Generator) -> U8:
    """Thin felt-tip or thick marker: erode or dilate at 2x resolution."""
    k = int(rng.choice([-2, -1, 0, 0, 1, 2, 3]))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    if k > 0:
        return np.asarray(cv2.dilate(img, kernel, iterations=k), np.uint8)
    if k < 0:
        thinner = np.asarray(cv2.erode(img, kernel, iterations=-k), np.uint8)
        if (thinner > 100).sum() > 0.35 * (img > 100).sum():  # never erase the digit
            return thinner
    return img
