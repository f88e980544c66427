"""A synthetic acta before scanning: the template's reference image, its boxes redrawn, filled by hand.

The reference ships with the handwriting regions painted out, often the printed digit boxes too, so the
box grid is drawn again: each field's group rectangle divided into equal boxes, white inside, with thin
dark printed borders (1.0-1.4 reference pixels; the real scans show 1.2-1.5). The form is rendered
at RENDER_SCALE times the reference frame (3200 px wide for the Bolivian forms): the scan step then
brings it down to a scanner's resolution, so strokes and lines are never upsampled from a small image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from actas.synth.handwriting import MnistTest, Pen, draw_digit
from pipeline.templates import MesaCodeSpec, Template, VariantSpec

U8 = npt.NDArray[np.uint8]

RENDER_SCALE = 2.0  # rendered pixels per reference-frame pixel
LINE_WIDTH_REF = (1.0, 1.4)  # printed box border, reference pixels (measured on the real scans: 1.2-1.5)
LINE_GREY = (25, 60)  # printed border darkness range


@dataclass(frozen=True)
class WrittenDigit:
    field: str
    box: int  # which box of the field, from the left
    label: int
    mnist_test_index: int  # index into MNIST's test split (t10k)


def blank_form(template: Template, variant: VariantSpec, rng: np.random.Generator, scale: float = RENDER_SCALE) -> U8:
    """The printed form at `scale` x the reference frame, BGR, with every field's box grid drawn."""
    ref = template.reference_image(variant)
    size = (int(round(variant.size[0] * scale)), int(round(variant.size[1] * scale)))
    gray = np.asarray(cv2.resize(ref, size, interpolation=cv2.INTER_CUBIC), np.uint8)
    paper = float(np.percentile(ref, 95))  # the whitest paper of that scan: inside of the boxes
    line = float(rng.uniform(*LINE_GREY))
    width = max(1, int(round(float(rng.uniform(*LINE_WIDTH_REF)) * scale)))
    for name, rect in variant.boxes.items():
        draw_box_group(gray, scaled(rect, scale), template.fields[name][1].digits, paper, line, width)
    return np.asarray(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), np.uint8)


def scaled(rect: tuple[float, float, float, float], scale: float) -> tuple[float, float, float, float]:
    x, y, w, h = rect
    return (x * scale, y * scale, w * scale, h * scale)


def draw_box_group(
    img: U8, rect: tuple[float, float, float, float], n: int, paper: float, line: float, width: int
) -> None:
    """White boxes with printed borders: the outer rectangle and n-1 dividers, in place."""
    x, y, w, h = rect
    p0, p1 = (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h)))
    cv2.rectangle(img, p0, p1, paper, -1)
    cv2.rectangle(img, p0, p1, line, width)  # crisp print: the scan's resampling softens it
    for i in range(1, n):
        xi = int(round(x + w * i / n))
        cv2.line(img, (xi, p0[1]), (xi, p1[1]), line, width)


def cell_rects(rect: tuple[float, float, float, float], n: int) -> list[tuple[float, float, float, float]]:
    x, y, w, h = rect
    return [(x + w * i / n, y, w / n, h) for i in range(n)]


def mesa_code_for(spec: MesaCodeSpec, rng: np.random.Generator) -> tuple[str, str | None]:
    """(barcode text, printed code): a random 7-digit barcode; the code is None if the pattern refuses it."""
    text = f"{int(rng.integers(1, 10))}{int(rng.integers(0, 10**6)):06d}"
    code = re.sub(spec.pattern, spec.format, text) if re.fullmatch(spec.pattern, text) else None
    return text, code


def draw_mesa_code(img: U8, spec: MesaCodeSpec, text: str, code: str | None, scale: float) -> None:
    """The code in large type and its Code 128 barcode below, in the template's region (in place)."""
    x, y, w, h = scaled(spec.regions[0], scale)  # the first candidate region
    paper = int(np.percentile(img[::8, ::8], 95))  # white paper: the region itself is masked grey
    cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), (paper, paper, paper), -1)
    bars = np.asarray(
        zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.Code128).to_image(scale=1, add_quiet_zones=True),
        np.uint8,
    )
    bars = bars if bars.ndim == 2 else np.asarray(cv2.cvtColor(bars, cv2.COLOR_BGR2GRAY), np.uint8)
    module = max(1, int(0.85 * w / bars.shape[1]))  # whole pixels per module keep the bars crisp
    bar_h = int(0.45 * h)
    bars = np.asarray(cv2.resize(bars[:1], (bars.shape[1] * module, bar_h), interpolation=cv2.INTER_NEAREST))
    bx, by = int(x + (w - bars.shape[1]) / 2), int(y + 0.5 * h)
    img[by : by + bar_h, bx : bx + bars.shape[1]] = bars[..., None] if img.ndim == 3 else bars
    label = code or text
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, int(round(1.5 * scale)))
    fs = 0.6 * scale
    (tw, th), _ = cv2.getTextSize(label, font, fs, thick)
    cv2.putText(img, label, (int(x + (w - tw) / 2), int(y + 0.1 * h + th)), font, fs, (20, 20, 20), thick, cv2.LINE_AA)


def fill_form(
    img: U8,
    template: Template,
    variant: VariantSpec,
    boxes: dict[str, list[int | None]],
    mnist: MnistTest,
    pen: Pen,
    rng: np.random.Generator,
    scale: float = RENDER_SCALE,
) -> list[WrittenDigit]:
    """Write each field's digits (None: a blank box) by hand into `img`, in place; what was written."""
    written = []
    for name, digits in boxes.items():
        cells = cell_rects(scaled(variant.boxes[name], scale), len(digits))
        for i, (label, cell) in enumerate(zip(digits, cells, strict=True)):
            if label is None:
                continue
            index = mnist.pick(label, rng)
            draw_digit(img, cell, mnist.images[index], pen, rng, scale)
            written.append(WrittenDigit(name, i, label, index))
    return written
