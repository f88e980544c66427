"""Identification and registration on the real scans, turned and on images that are no form."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.errors import NotAForm
from pipeline.registration import MIN_INLIERS, FormRegistrar, _working_copy
from pipeline.templates import load_templates
from tests.conftest import ACTAS, real_actas
from tests.images import imread


@pytest.fixture(scope="module")
def registrar() -> FormRegistrar:
    return FormRegistrar(load_templates())


def _box_centre_in_scan(reg, key: str) -> np.ndarray:
    x, y, w, h = reg.variant.boxes[key]
    pt = np.array([[[x + w / 2, y + h / 2]]], np.float64)
    return cv2.perspectiveTransform(pt, np.linalg.inv(reg.scan_to_ref)).reshape(2)


@pytest.mark.parametrize(("path", "truth"), real_actas(), ids=lambda v: getattr(v, "name", ""))
def test_each_real_acta_is_identified(registrar: FormRegistrar, path, truth) -> None:
    gray = imread(path, cv2.IMREAD_GRAYSCALE)
    reg = registrar.register(gray)
    assert reg.template.id == path.parent.name
    assert 0.45 < reg.score <= 1.0


def test_upside_down_scan_maps_boxes_to_the_same_place(registrar: FormRegistrar) -> None:
    path = real_actas()[0][0]
    gray = imread(path, cv2.IMREAD_GRAYSCALE)
    h, w = gray.shape
    upright = registrar.register(gray)
    turned = registrar.register(np.asarray(cv2.rotate(gray, cv2.ROTATE_180), np.uint8))
    key = "presidente.PDC"
    a = _box_centre_in_scan(upright, key)
    b = _box_centre_in_scan(turned, key)
    assert np.allclose(b, [w - 1 - a[0], h - 1 - a[1]], atol=6)


def test_forcing_an_unknown_template(registrar: FormRegistrar) -> None:
    gray = imread(real_actas()[0][0], cv2.IMREAD_GRAYSCALE)
    with pytest.raises(NotAForm, match="unknown template"):
        registrar.register(gray, only="no-such-form")


def test_photo_of_something_else_is_not_a_form(registrar: FormRegistrar) -> None:
    rng = np.random.default_rng(3)
    img = np.full((900, 1300), 180, np.uint8)
    for _ in range(60):  # a busy scene: shapes and text, but no tally sheet
        x, y = (int(v) for v in rng.integers(0, 1200, 2))
        cv2.rectangle(img, (x, y % 850), (x + int(rng.integers(20, 200)), y % 850 + 40), int(rng.integers(0, 120)), -1)
        cv2.putText(img, "ABC 123", (x, (y + 60) % 880), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 30, 2)
    with pytest.raises(NotAForm):
        registrar.register(img)


def test_blank_image_is_not_a_form(registrar: FormRegistrar) -> None:
    with pytest.raises(NotAForm):
        registrar.register(np.full((800, 1100), 255, np.uint8))


SURE = {  # a scan of each form on which ORB is sure (SIFT not tried)
    "bo2019-general": "mesa_10368.jpg",
    "bo2025-runoff": "mesa_1000551.jpg",
    "bo2020-general": "25001.jpg",
}


def _scan_of(form: str) -> np.ndarray:
    return imread(ACTAS / form / SURE[form], cv2.IMREAD_GRAYSCALE)


@pytest.mark.parametrize("form", ["bo2019-general", "bo2025-runoff"])
def test_the_quick_look_keeps_the_form_and_leaves_out_other_forms(registrar: FormRegistrar, form: str) -> None:
    small, scale = _working_copy(_scan_of(form))
    scan = registrar._orb.scan(small, scale)
    near, rest = registrar._orb.shortlist(scan, None)
    assert near[0].template.id == form
    assert {r.template.id for r in near} == {form}  # other forms cost no full match
    assert rest  # ... and there are others


@pytest.mark.parametrize("form", ["bo2019-general", "bo2025-runoff"])
def test_the_ranking_consumed_to_its_end_is_the_exhaustive_one(registrar: FormRegistrar, form: str) -> None:
    """The references the quick look left out are matched when a caller gets past the others (the
    reader does when the boxes are not where the first registrations put them)."""
    gray = _scan_of(form)
    ranked = [(r.template.id, r.variant.id, r.inliers) for r in registrar.register_ranked(gray)]
    small, scale = _working_copy(gray)
    every = registrar._orb.candidates(registrar._orb.scan(small, scale), registrar._orb.refs(None))
    exhaustive = sorted(
        ((r.template.id, r.variant.id, n) for n, r, _ in every if n >= MIN_INLIERS), key=lambda c: -c[2]
    )
    assert ranked[0] == exhaustive[0]
    assert sorted(ranked) == sorted(exhaustive)


def test_matching_on_two_threads_registers_alike(registrar: FormRegistrar) -> None:
    """The scan's queries split between threads, each on its own copy of an index: the same warp."""
    two = FormRegistrar(load_templates(), threads=2)
    for form in ("bo2019-general", "bo2025-runoff", "bo2020-general"):
        gray = _scan_of(form)
        a, b = registrar.register(gray), two.register(gray)
        assert (a.template.id, a.variant.id, a.inliers) == (b.template.id, b.variant.id, b.inliers)
        assert np.array_equal(a.scan_to_ref, b.scan_to_ref)


def test_a_reference_without_features_is_refused_by_orb_and_left_out_by_sift(monkeypatch: pytest.MonkeyPatch) -> None:
    """ORB's references are built at start-up and must all be usable; SIFT's are built during a read,
    where one it finds too little in is left out of its tries instead of failing every read."""
    from pipeline.registration import _Detector
    from pipeline.templates import Template

    templates = {k: t for k, t in load_templates().items() if k in ("bo2025-runoff", "bo2025-general")}
    original = Template.reference_image

    def blank_runoff(self: Template, variant):
        img = original(self, variant)
        return np.full_like(img, 255) if self.id == "bo2025-runoff" else img

    monkeypatch.setattr(Template, "reference_image", blank_runoff)
    with pytest.raises(ValueError, match=r"bo2025-runoff/.*too few features"):
        _Detector("orb", templates)
    sift = _Detector("sift", templates)
    assert {r.template.id for r in sift.references} == {"bo2025-general"}


def test_the_full_match_reuses_the_quick_looks_pairs_and_finds_the_same(registrar: FormRegistrar) -> None:
    """The keypoints the quick look matched are not queried again: the merged pairs give the same inliers
    and homographies as matching every keypoint afresh."""
    import dataclasses

    for path in (ACTAS / "bo2025-runoff" / "mesa_1000551.jpg", ACTAS / "bo2019-general" / "mesa_10369.jpg"):
        small, scale = _working_copy(imread(path, cv2.IMREAD_GRAYSCALE))
        orb = registrar._orb
        scan = orb.scan(small, scale)
        assert scan is not None
        near, _ = orb.shortlist(scan, None)
        assert all(id(r) in scan.quick_pairs for r in near) and len(scan.sample) < len(scan.descriptors)
        reused = orb.candidates(scan, near)
        afresh = orb.candidates(dataclasses.replace(scan, quick_pairs={}), near)
        assert [n for n, _, _ in reused] == [n for n, _, _ in afresh] and reused[0][0] >= MIN_INLIERS
        assert all(np.array_equal(a, b) for (_, _, a), (_, _, b) in zip(reused, afresh, strict=True))
