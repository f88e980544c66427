"""`actas forms new` drafts a template from real samples; `actas forms check` is idempotent and writes
only when asked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from actas.authoring import stable_snap
from actas.cli import main
from pipeline.registration import FormRegistrar
from pipeline.templates import BUILTIN_TEMPLATES_DIR, load_template, load_templates
from tests.conftest import ACTAS
from tests.images import imread

Y2020 = ACTAS / "bo2020-general"


def test_forms_new_finds_the_box_grid_and_never_overwrites(tmp_path: Path, capsys) -> None:
    samples = [str(Y2020 / n) for n in ("25001.jpg", "25002.jpg", "25003.jpg")]
    assert main(["forms", "new", "draft-2020", *samples, "--out", str(tmp_path)]) == 0
    draft = load_template(tmp_path / "draft-2020.json")  # a valid, strict template as written
    threes = [k for k, (_s, f) in draft.fields.items() if f.digits == 3]
    assert len(threes) >= 15  # most of the 25 count groups of the form, found from the printed lines
    # each proposal says where its printed label is: the party names left of the count rows
    labelled = [f for k, (_s, f) in draft.fields.items() if f.digits == 3 and "printed label left, at [" in f.label]
    assert len(labelled) >= 15
    v = draft.variants[0]
    assert v.mesa_code is not None and {"Code39", "Code128"} <= set(v.mesa_code.formats)
    assert (tmp_path / "draft-2020.A1.jpg").stat().st_size < 400_000
    assert (tmp_path / "draft-2020.A1.overlay.png").is_file()
    before = (tmp_path / "draft-2020.json").read_bytes()
    assert main(["forms", "new", "draft-2020", *samples, "--out", str(tmp_path)]) == 2
    assert (tmp_path / "draft-2020.json").read_bytes() == before


def test_forms_check_is_idempotent_and_writes_only_when_asked(tmp_path: Path, capsys) -> None:
    for f in BUILTIN_TEMPLATES_DIR.glob("bo2020-general*"):
        shutil.copy(f, tmp_path)
    path = tmp_path / "bo2020-general.json"
    data = json.loads(path.read_text())
    box = data["variants"][0]["boxes"]["presidente.MAS_IPSP"]
    box[0] += 3  # a rough guess, 3 px off
    path.write_text(json.dumps(data))
    sample = str(Y2020 / "25001.jpg")
    assert main(["forms", "check", str(path), sample]) == 0
    assert json.loads(path.read_text()) == data  # reported, not written
    assert main(["forms", "check", str(path), sample, "--write"]) == 0
    once = path.read_text()
    assert json.loads(once) != data  # the groups moved to their printed lines
    assert main(["forms", "check", str(path), sample, "--write"]) == 0
    assert path.read_text() == once
    assert "nothing to change" in capsys.readouterr().out


def test_templates_dir_adds_to_the_builtins(tmp_path: Path) -> None:
    for f in BUILTIN_TEMPLATES_DIR.glob("bo2020-general*"):
        shutil.copy(f, tmp_path)
    data = json.loads((tmp_path / "bo2020-general.json").read_text())
    data["title"] = "replaced"
    (tmp_path / "bo2020-general.json").write_text(json.dumps(data))
    found = load_templates(tmp_path)
    assert {"bo2019-general", "bo2025-general", "bo2025-runoff", "bo2020-general"} <= set(found)
    assert found["bo2020-general"].title == "replaced"


def _row_without_bottom_line() -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Three 36-px boxes drawn with a top line and dividers only (as the 2020 form's JUNTOS row, whose
    boxes end where a faint band does): the rect of their outer border."""
    img = np.full((200, 300), 235, np.uint8)
    x0, y0, bw, h = 60, 60, 36, 36
    cv2.line(img, (x0, y0), (x0 + 3 * bw, y0), 40, 2)
    for i in range(4):
        cv2.line(img, (x0 + i * bw, y0), (x0 + i * bw, y0 + h), 40, 2)
    return img, (x0, y0, 3 * bw, h)


def test_a_row_missing_its_bottom_line_snaps_from_the_box_height() -> None:
    img, truth = _row_without_bottom_line()
    guess = (truth[0] + 2.0, truth[1] - 2.5, truth[2] - 1.0, truth[3])  # a hand-placed guess
    rect, problem = stable_snap(img, guess, 3)
    assert problem is None
    assert max(abs(a - b) for a, b in zip(rect, truth, strict=True)) <= 1.0
    # without its dividers, one line is not enough: reported with why
    bare = img.copy()
    bare[62:95, 55:175] = 235
    rect, problem = stable_snap(bare, guess, 3)
    assert rect == guess and problem is not None and "vertical lines" in problem


def test_2020_rows_without_a_bottom_line_snap() -> None:
    """diputados JUNTOS (pre-printed `x x x` on a grey band, the tinted column below) and diputados VOTOS
    VÁLIDOS (white boxes on a band that ends with them) have no bottom line; 25001 shows every divider."""
    tpl = load_templates()["bo2020-general"]
    gray = imread(Y2020 / "25001.jpg", cv2.IMREAD_GRAYSCALE)
    reg = FormRegistrar({tpl.id: tpl}).register(gray, only=tpl.id)
    frame = np.asarray(cv2.warpPerspective(gray, reg.scan_to_ref, reg.variant.size, flags=cv2.INTER_AREA), np.uint8)
    for key in ("diputados.JUNTOS", "diputados.VOTOS_VALIDOS"):
        box = reg.variant.boxes[key]
        rect, problem = stable_snap(frame, box, 3)
        assert problem is None, (key, problem)
        assert abs(rect[1] - box[1]) < 3 and abs(rect[3] - box[3]) < 1, (key, rect, box)


def test_draft_proposals_carry_their_printed_labels() -> None:
    """On the shipped 2019 reference (printed form only), each count row's label is the text left of its
    boxes, in the same row (the party names' cells); the mesa counts' labels are the questions above."""
    from actas.authoring import label_rect, text_and_verticals

    tpl = load_templates()["bo2019-general"]
    v = tpl.variants[0]
    ref = cv2.resize(tpl.reference_image(v), tuple(v.size), interpolation=cv2.INTER_LINEAR)
    gray = np.asarray(ref if ref.ndim == 2 else cv2.cvtColor(ref, cv2.COLOR_BGR2GRAY), np.uint8)
    text, vertical = text_and_verticals(gray, 36.0)
    for key, box in v.boxes.items():
        rect, side = label_rect(text, vertical, box)
        assert rect is not None, key
        lx, ly, lw, lh = rect
        if key.startswith("mesa."):
            assert side == "above" and ly + lh <= box[1], (key, rect)
        else:
            assert side == "left", (key, rect, side)
            assert lx + lw < box[0] and box[0] - (lx + lw) < 250, (key, rect)  # in the label cell, not beyond
            assert box[1] <= ly + lh / 2 <= box[1] + box[3], (key, rect)  # on the row


def test_forms_check_overlay_is_the_colour_scan_in_the_frame(tmp_path: Path) -> None:
    sample = Y2020 / "25001.jpg"
    assert main(["forms", "check", "bo2020-general", str(sample), "--overlay", str(tmp_path)]) == 0
    img = cv2.imread(str(tmp_path / "25001.check.png"), cv2.IMREAD_COLOR)
    v = load_templates()["bo2020-general"].variants[0]
    assert img is not None and (img.shape[1], img.shape[0]) == tuple(v.size)
    b, r = img[..., 0].astype(int), img[..., 2].astype(int)
    assert (np.abs(b - r) > 40).mean() > 0.05  # the tinted columns and the pen: colour, not grey
