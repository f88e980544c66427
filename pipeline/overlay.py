"""The audit image: each box outlined on the scan with the value read (red when it needs review)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.schema import ActaReading

U8 = npt.NDArray[np.uint8]
OK, REVIEW, BLANK = (40, 160, 40), (30, 30, 220), (160, 160, 160)


def draw_overlay(scan: U8, reading: ActaReading) -> U8:
    out = scan.copy()
    scale = max(1.0, out.shape[1] / 1600)
    for f in reading.fields:
        colour = REVIEW if f.needs_review else OK
        xs = [d.box[0] for d in f.digits]
        for d in f.digits:
            x, y, w, h = d.box
            cv2.rectangle(out, (x, y), (x + w, y + h), colour if d.char is not None else BLANK, max(1, int(scale)))
        x0, y0 = min(xs), min(d.box[1] for d in f.digits)
        label = f"{'-' if f.value is None else f.value} ({f.confidence:.2f})"
        cv2.putText(
            out,
            label,
            (x0, max(12, y0 - int(4 * scale))),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5 * scale,
            colour,
            max(1, int(scale)),
            cv2.LINE_AA,
        )
    return out


def encode_png(img: U8) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise ValueError("could not encode the overlay")
    return bytes(buf)
