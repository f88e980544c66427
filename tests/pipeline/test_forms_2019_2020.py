"""The 2019 and 2020 Bolivian forms: a couple of real scans each (the 100 2019 scans are `actas eval`'s)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.marks import x_score
from pipeline.reader import ActaReader
from pipeline.reasons import ReasonCode
from pipeline.templates import load_templates
from tests.conftest import ACTAS
from tests.images import imread

Y2019 = ACTAS / "bo2019-general"
Y2020 = ACTAS / "bo2020-general"


@pytest.mark.parametrize(("name", "variant"), [("mesa_10368.jpg", "A1"), ("mesa_61280.jpg", "A3")])
def test_2019_scans_register_and_read_their_mesa_code(reader: ActaReader, name: str, variant: str) -> None:
    truth = json.loads((Y2019 / "truth.json").read_text())["actas"][name]
    reading = reader.read((Y2019 / name).read_bytes())
    assert (reading.template, reading.variant) == ("bo2019-general", variant)
    assert reading.mesa_code == truth["mesa_code"]  # Code 39 in the mesa-code block, or the Code 128
    assert len(reading.fields) == 27


def test_2019_mesa_code_from_the_code39_alone(reader: ActaReader) -> None:
    tpl = load_templates()["bo2019-general"]
    v = tpl.variants[0]
    assert v.mesa_code is not None and v.mesa_code.formats[0] == "Code39"
    from pipeline.mesa_code import read_mesa_code

    code39_only = v.mesa_code.model_copy(update={"regions": v.mesa_code.regions[:1], "formats": ["Code39"]})
    import cv2

    scan = imread(Y2019 / "mesa_10368.jpg")
    gray = imread(Y2019 / "mesa_10368.jpg", cv2.IMREAD_GRAYSCALE)
    reg = reader.registrar.register(gray, only="bo2019-general")
    assert read_mesa_code(scan, reg.scan_to_ref, code39_only) == "10368"


def test_2020_crossed_boxes_read_as_no_digit(reader: ActaReader) -> None:
    reading = reader.read((Y2020 / "25001.jpg").read_bytes())
    by = {f"{f.section}.{f.key}": f for f in reading.fields}
    # read by eye on the scan: ADN, PAN-BOL and LIBRE 21 crossed in every box (XXX), JUNTOS pre-printed
    for key in ("presidente.ADN", "presidente.PAN_BOL", "presidente.LIBRE_21", "presidente.JUNTOS"):
        assert by[key].value is None and by[key].text == "___", key
        assert ReasonCode.INK_READ_AS_BLANK not in by[key].reason_codes
    assert by["presidente.CREEMOS"].text.startswith("__")  # X X 4: the crosses are no digits
    assert reading.mesa_code == "25001"


def test_x_shape_against_digit_shapes() -> None:
    n = 40
    cross = np.zeros((n, n), bool)
    for i in range(n):
        cross[i, max(0, i - 1) : i + 2] = True
        cross[i, max(0, n - 2 - i) : n + 1 - i] = True
    assert x_score(cross).is_x
    one = np.zeros((n, n), bool)
    one[:, 18:22] = True
    assert not x_score(one).is_x and not x_score(one).maybe_x
    seven = np.zeros((n, n), bool)
    seven[0:3, :] = True
    for i in range(n):
        seven[i, max(0, n - 2 - i) : n + 1 - i] = True
    assert not x_score(seven).is_x


def test_bounds_flag_the_consistent_misread() -> None:
    """2019, every 1 read as 7: 778 + 7 + 9 = 794 ballots holds, but the form says 221 electors."""
    from pipeline.rules import in_doubt

    rules = load_templates()["bo2019-general"].ruleset
    values = {
        "presidente.CC": 778,
        "presidente.VOTOS_VALIDOS": 778,
        "presidente.VOTOS_BLANCOS": 7,
        "presidente.VOTOS_NULOS": 9,
        "mesa.PAPELETAS_EN_ANFORA": 794,
        "mesa.ELECTORES_HABILITADOS": 221,
    }
    checks = rules.check(values)
    sums = [c for c in checks if c.op == "==" and "presidente.VOTOS_BLANCOS" in c.fields]
    assert sums and all(c.ok for c in sums)
    assert any(not c.ok and c.op == "<=" for c in checks)
    doubt = in_doubt(checks)
    assert ReasonCode.BOUND_BROKEN in {r.code for r in doubt["presidente.VOTOS_VALIDOS"]}


def test_2019_a_misread_repeated_across_the_column_is_flagged(reader: ActaReader) -> None:
    """mesa 70343: every `1` of the presidente column and the ballots read as `4` keeps both presidente
    sums true (CC 135 -> 435, VOTOS_VALIDOS 186 -> 486, ballots 194 -> 494) over 227 electors: each
    presidente field must be right or flagged, CC too, which only valid = sum of the parties ties."""
    name = "mesa_70343.jpg"
    truth = json.loads((Y2019 / "truth.json").read_text())["actas"][name]["counts"]["presidente"]
    reading = reader.read((Y2019 / name).read_bytes())
    pres = {f.key: f for f in reading.fields if f.section == "presidente"}
    wrong = [k for k, v in truth.items() if pres[k].value != v and not (v == 0 and pres[k].value is None)]
    assert all(pres[k].needs_review for k in wrong), [(k, pres[k].value, truth[k]) for k in wrong]
    if "CC" in wrong:
        assert ReasonCode.BOUND_BROKEN in pres["CC"].reason_codes


@pytest.mark.parametrize(
    ("name", "crossed", "expect"),
    [
        # read by eye: diputados ADN and LIBRE 21 crossed in every box, presidente VOTOS NULOS `X X 5`
        ("25008.jpg", ("diputados.ADN", "diputados.LIBRE_21"), {"presidente.VOTOS_NULOS": "__5"}),
        ("25001.jpg", ("diputados.ADN", "diputados.LIBRE_21"), {}),
    ],
)
def test_2020_crosses_beside_a_tinted_band_read_as_no_digit(
    reader: ActaReader, name: str, crossed: tuple[str, ...], expect: dict[str, str]
) -> None:
    """The third box of these rows, and VOTOS NULOS, are cropped with a band of the column's tint along
    an edge (right; bottom): the cross is judged without it (`pipeline.marks.without_edge_bands`)."""
    reading = reader.read((Y2020 / name).read_bytes())
    by = {f"{f.section}.{f.key}": f for f in reading.fields}
    for key in crossed:
        assert by[key].text == "___" and by[key].value is None, (key, by[key].text)
    for key, text in expect.items():
        assert by[key].text == text, (key, by[key].text)


def test_an_edge_band_does_not_hide_a_cross_nor_make_one() -> None:
    n = 48
    cross = np.zeros((n, n + 12), bool)
    for i in range(4, n - 4):
        cross[i, i - 1 : i + 2] = True
        cross[i, n - 2 - i : n + 1 - i] = True
    banded = cross.copy()
    banded[:, n + 2 :] = True  # a band of tint down the right edge, as the crop of a row's last box takes in
    assert x_score(cross).is_x and x_score(banded).is_x
    from pipeline.marks import without_edge_bands

    assert not without_edge_bands(banded)[:, n + 2 :].any()
    seven = np.zeros((n, n + 12), bool)
    seven[4:8, 6 : n - 4] = True
    for i in range(4, n - 4):
        seven[i, n - 2 - i : n + 1 - i] = True
    banded_seven = seven.copy()
    banded_seven[:, n + 2 :] = True
    assert not x_score(banded_seven).is_x and not x_score(banded_seven).maybe_x
