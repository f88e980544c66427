"""Synthetic examples of the `blank` class: what the pipeline hands over from an empty vote box.

An empty box after border removal is not all black: pieces of the printed border along the edges,
dust specks, a faint smudge or bleed-through, scanner noise. A tiny mark is centred but not blown up
(`center_digit`'s `min_extent`), so it stays small. None of these may be read as a digit.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.digit_input import INPUT_SIZE
from training.data.augment import draw_edge_fragments, draw_specks

U8 = npt.NDArray[np.uint8]


def synth_blank(rng: np.random.Generator) -> U8:
    """One blank canvas, INPUT_SIZE square, uint8 white-on-black."""
    s = INPUT_SIZE
    img = np.zeros((s, s), np.float32)
    kind = rng.random()
    if kind < 0.2:
        pass  # clean empty box
    elif kind < 0.45:
        draw_edge_fragments(img, rng, n_edges=int(rng.integers(1, 5)))
    elif kind < 0.6:
        draw_specks(img, rng, n=int(rng.integers(1, 5)))
    elif kind < 0.75:  # a small centred mark, kept small by center_digit's min_extent
        r = int(rng.integers(1, 3))
        c = s // 2 + rng.integers(-2, 3, size=2)
        cv2.circle(img, (int(c[0]), int(c[1])), r, float(rng.uniform(80, 255)), -1)
    else:  # faint smudge or bleed-through from the other side of the sheet
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        cx, cy = rng.uniform(4, s - 4, size=2)
        sigma = float(rng.uniform(2.5, 7.0))
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
        img += blob * float(rng.uniform(20, 70))
        if rng.random() < 0.5:
            draw_edge_fragments(img, rng, n_edges=int(rng.integers(1, 3)))
    if rng.random() < 0.5:
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 0.9))), np.float32)
    if rng.random() < 0.7:
        img = img + rng.normal(0.0, float(rng.uniform(2, 14)), img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def synth_blanks(n: int, seed: int) -> U8:
    rng = np.random.default_rng(seed)
    return np.stack([synth_blank(rng) for _ in range(n)]) if n else np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.uint8)
