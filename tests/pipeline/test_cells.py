"""Finding the digit in a box, on boxes drawn in the test: ink, blanks, border remnants, specks."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from pipeline.cells import segment_cell
from pipeline.digit_input import INPUT_SIZE, center_digit
from pipeline.reader import ActaReader
from tests.conftest import ACTAS
from tests.images import imread

BOX = (20, 20, 60, 64)  # x, y, w, h inside a 104x104 patch


def _box_patch(border: int = 2) -> np.ndarray:
    img = np.full((104, 104, 3), 235, np.uint8)
    x, y, w, h = BOX
    cv2.rectangle(img, (x, y), (x + w, y + h), (40, 40, 40), border)
    return img


def test_written_digit_is_found_and_centred() -> None:
    img = _box_patch()
    cv2.putText(img, "7", (36, 72), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (150, 60, 20), 3)  # blue pen
    cell = segment_cell(np.asarray(img, np.uint8), BOX)
    assert cell.ink
    ys, xs = np.nonzero(cell.canvas > 60)
    assert cell.canvas.shape == (INPUT_SIZE, INPUT_SIZE)
    assert 16 <= ys.max() - ys.min() + 1 <= 21  # scaled so its height is the MNIST 20 px
    assert abs(xs.mean() - INPUT_SIZE / 2) < 3 and abs(ys.mean() - INPUT_SIZE / 2) < 3


def test_a_big_bold_digit_that_fills_the_box_is_found() -> None:
    """Ink over a third of the box must not be taken for the paper's noise (a `5` read as blank once)."""
    img = _box_patch()
    cv2.putText(img, "5", (24, 78), cv2.FONT_HERSHEY_SIMPLEX, 2.4, (110, 110, 110), 13)  # a grey marker
    img = cv2.GaussianBlur(img, (0, 0), 1.5)  # as scanned
    x, y, w, h = BOX
    assert (img[y + 4 : y + h - 4, x + 4 : x + w - 4, 0] < 170).mean() > 0.35
    cell = segment_cell(np.asarray(img, np.uint8), BOX)
    assert cell.ink
    ys, _ = np.nonzero(cell.canvas > 60)
    assert ys.max() - ys.min() + 1 >= 16  # the whole digit, not specks


def test_empty_box_with_thick_border_is_blank() -> None:
    cell = segment_cell(_box_patch(border=5), BOX)  # border thicker than the inset leaves remnants
    assert not cell.ink and cell.canvas.max() == 0


def test_specks_and_a_faint_smudge_are_blank() -> None:
    img = _box_patch()
    for cx, cy in ((35, 40), (60, 70), (48, 55)):
        cv2.circle(img, (cx, cy), 1, (60, 60, 60), -1)
    smudge = np.zeros((104, 104), np.float32)
    cv2.circle(smudge, (50, 50), 12, 1.0, -1)
    img = (img.astype(np.float32) - cv2.GaussianBlur(smudge, (0, 0), 6)[..., None] * 20).astype(np.uint8)
    assert not segment_cell(img, BOX).ink


@pytest.mark.parametrize(("under_paper", "ink"), [(55, True), (30, False)])
def test_a_stroke_is_ink_only_when_darker_than_the_least_contrast(under_paper: int, ink: bool) -> None:
    """A stroke `under_paper` grey levels darker than the paper: ink above MIN_CONTRAST (40); under it
    the box is blank before any threshold is worked out."""
    img = _box_patch()
    grey = 235 - under_paper
    cv2.line(img, (50, 32), (50, 76), (grey, grey, grey), 5)
    assert segment_cell(img, BOX).ink is ink


def test_faint_grey_zero_stays_closed() -> None:
    img = _box_patch()
    rng = np.random.default_rng(0)
    img = np.clip(img.astype(np.int16) + rng.integers(-18, 18, img.shape), 0, 255).astype(np.uint8)  # grain
    cv2.ellipse(img, (50, 52), (17, 24), 0, 0, 360, (120, 120, 120), 3)
    cell = segment_cell(np.asarray(img, np.uint8), BOX)
    assert cell.ink
    canvas = cell.canvas > 60
    # a closed ring: the centre is empty and enclosed (flood fill from the corner cannot reach it)
    filled = canvas.astype(np.uint8).copy()
    cv2.floodFill(filled, None, (0, 0), 2)
    assert (filled == 0).sum() > 10


def test_center_digit_keeps_a_speck_small() -> None:
    speck = np.zeros((64, 60), np.uint8)
    speck[30:33, 30:33] = 255
    out = center_digit(speck, min_extent=32)
    assert (out > 0).sum() <= 9  # not blown up to a 20 px blob


def _canvas_with(extra: str | None) -> tuple[np.ndarray, bool]:
    """A `4` in a box, with a band of tint along the box's right edge or the next box's printed border
    inside the crop (the box located a little off)."""
    img = _box_patch()
    cv2.putText(img, "4", (34, 72), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (150, 60, 20), 3)
    x, y, w, h = BOX
    if extra == "band":  # a coloured column's tint, 10 px, taken in beside the white box (2020 form)
        img[y + 2 : y + h - 1, x + w - 12 : x + w - 1] = (190, 160, 215)
    elif extra == "rule":  # a printed line crossing the crop in its outer third
        cv2.line(img, (x + w - 12, 0), (x + w - 12, 103), (40, 40, 40), 2)
    cell = segment_cell(np.asarray(img, np.uint8), BOX)
    return cell.canvas, cell.ink


def test_a_band_of_tint_or_a_border_taken_in_is_not_ink() -> None:
    clean, _ = _canvas_with(None)
    for extra in ("band", "rule"):
        canvas, ink = _canvas_with(extra)
        assert ink
        # the same digit, placed the same: what the band or the line added is gone
        assert np.abs(canvas.astype(int) - clean.astype(int)).mean() < 4, extra


def test_a_box_holding_only_a_band_of_tint_is_blank() -> None:
    img = _box_patch()
    x, y, w, h = BOX
    img[y + 2 : y + h - 1, x + w - 12 : x + w - 1] = (190, 160, 215)
    assert not segment_cell(img, BOX).ink


def test_a_real_acta_with_tinted_box_edges_reads_the_same(reader: ActaReader) -> None:
    """Each box of a real 2025 acta given a band of tint down its right edge (as the 2020 form's tinted
    columns look when a crop takes them in): every field reads as before."""
    path = ACTAS / "bo2025-runoff" / "mesa_1000551.jpg"
    img = imread(path)
    before = reader.read(path.read_bytes())
    trace = reader.trace(path.read_bytes())
    tinted = img.copy()
    for c in trace.cells:
        x, y, w, h = c.box
        band = max(3, int(0.2 * w))
        tinted[y + 2 : y + h - 2, x + w - band - 2 : x + w - 2] = (190, 160, 215)
    ok, buf = cv2.imencode(".png", tinted)
    assert ok
    assert reader.read(bytes(buf)).counts == before.counts  # before bands were left out, they did not
    again = reader.trace(bytes(buf))
    for a, b in zip(trace.cells, again.cells, strict=True):  # each box's digit as before, band or not
        assert a.cell.ink == b.cell.ink
        assert np.abs(a.cell.canvas.astype(int) - b.cell.canvas.astype(int)).mean() < 20, a.field


def _two_on_the_line(rule: bool = False) -> np.ndarray:
    """A `2` whose base runs along the box's bottom line, in the margin the inset trims (how many 2019
    jurors write it); `rule`: a printed line across the box's top third that the digit touches."""
    img = _box_patch()
    y, h = BOX[1], BOX[3]
    pen = (150, 60, 20)
    cv2.ellipse(img, (50, 44), (13, 13), 0, 180, 360, pen, 3)  # the arc
    cv2.line(img, (63, 44), (36, y + h - 2), pen, 3)  # the diagonal, down to the line
    cv2.line(img, (36, y + h - 2), (68, y + h - 2), pen, 3)  # the base, touching the border
    if rule:
        cv2.line(img, (0, 37), (103, 37), (40, 40, 40), 2)  # crosses the arc
    return img


def _base_share(canvas: np.ndarray) -> float:
    """How wide the lowest rows of the digit are, against the digit's width."""
    ys, xs = np.nonzero(canvas > 60)
    low = canvas[ys.max() - 2 : ys.max() + 1] > 60
    cols = np.nonzero(low.any(axis=0))[0]
    return float((cols.max() - cols.min() + 1) / (xs.max() - xs.min() + 1))


def test_a_stroke_running_into_the_trimmed_margin_is_kept_and_the_border_is_not() -> None:
    """A `2` cut at the inset kept only its arc and diagonal and read `7` (mesa 70939 and 72758)."""
    cell = segment_cell(_two_on_the_line(), BOX)
    assert cell.ink
    assert _base_share(cell.canvas) > 0.6  # the base is there
    rows = (cell.canvas > 60).sum(axis=1)
    assert rows.max() < 0.9 * INPUT_SIZE  # and the printed border below it is not


def test_a_printed_rule_the_digit_touches_is_not_ink(reader: ActaReader) -> None:
    """A rule across the box's top third joined to the digit is one component with it: it is dropped
    by rows (2020: a `0` under the next row's rule read `2`)."""
    ruled = segment_cell(_two_on_the_line(rule=True), BOX)
    assert ruled.ink
    assert (ruled.canvas > 60).sum(axis=1).max() < 0.9 * INPUT_SIZE  # no row across the canvas
    clean = segment_cell(_two_on_the_line(), BOX).canvas
    read = reader.classifier.predict(np.stack([clean, ruled.canvas])).labels
    assert read.tolist() == [2, 2]


@pytest.mark.parametrize(
    ("name", "key", "text"), [("mesa_70939.jpg", "MAS_IPSP", "012"), ("mesa_72758.jpg", "VOTOS_VALIDOS", "204")]
)
def test_real_2019_twos_on_the_line_read_two(reader: ActaReader, name: str, key: str, text: str) -> None:
    """Two held-out 2019 scans whose juror's `2` sits on the box's bottom line (read `7` before); the
    text is the boxes as read, before any rule."""
    truth = json.loads((ACTAS / "bo2019-general" / "truth.json").read_text())["actas"][name]
    assert int(text.strip("_")) == truth["counts"]["presidente"][key]
    reading = reader.read((ACTAS / "bo2019-general" / name).read_bytes())
    field = next(f for f in reading.fields if (f.section, f.key) == ("presidente", key))
    assert field.text == text


def test_a_real_acta_with_a_rule_across_each_box_reads_the_same(reader: ActaReader) -> None:
    """Each box of a real 2025 acta crossed in its top fifth by a thin printed line, edge to edge, as
    when a box is located a little off and takes in the next row's rule: every box reads as before."""
    path = ACTAS / "bo2025-runoff" / "mesa_1000551.jpg"
    img = imread(path)
    trace = reader.trace(path.read_bytes())
    ruled = img.copy()
    for c in trace.cells:
        x, y, w, h = c.box
        yy = y + int(0.2 * h)
        ruled[yy : yy + 2, x : x + w] = (60, 60, 60)
    ok, buf = cv2.imencode(".png", ruled)
    assert ok
    again = reader.trace(bytes(buf))
    before = trace.probs.argmax(axis=1)
    after = again.probs.argmax(axis=1)
    assert [a.cell.ink for a in trace.cells] == [b.cell.ink for b in again.cells]
    assert (before == after).all(), [c.field for c, a, b in zip(trace.cells, before, after, strict=True) if a != b]


def test_a_box_partly_or_wholly_off_the_patch_never_fails() -> None:
    """The grid can put a box partly off its patch: the part inside is read, a box outside is blank, and
    no rectangle, however placed, raises (a negative end once sliced from the far side)."""
    img = _box_patch()
    cv2.putText(img, "7", (36, 72), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (150, 60, 20), 3)
    x, y, w, h = BOX
    assert segment_cell(img, (x, y - 30, w, h + 30)).ink  # starts above the patch
    assert segment_cell(img, (x, y, w + 60, h)).ink  # runs off its right side
    assert not segment_cell(img, (-90, -90, 60, 64)).ink  # wholly outside
    rng = np.random.default_rng(3)
    for _ in range(300):
        rx, ry = (int(v) for v in rng.integers(-60, 110, size=2))
        rw, rh = (int(v) for v in rng.integers(1, 90, size=2))
        assert segment_cell(img, (rx, ry, rw, rh)).canvas.shape == (INPUT_SIZE, INPUT_SIZE)
