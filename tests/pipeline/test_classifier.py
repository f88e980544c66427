"""The classifier's no-digit marks: the card lists them, the reader folds them as the form says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.classifier import fold_marks
from pipeline.config import SHIPPED_MODEL
from pipeline.digit_input import BLANK, CLASSES
from pipeline.model_card import card_path, load_card


def rows() -> np.ndarray:
    """Three boxes over CLASSES + ["X"]: a sure X, a sure 4, an X the model half believes is a 4."""
    p = np.zeros((3, len(CLASSES) + 1), np.float32)
    p[0, -1] = 0.97
    p[0, 4] = 0.03
    p[1, 4] = 1.0
    p[2, -1], p[2, 4] = 0.6, 0.4
    return p


def test_a_mark_the_form_declares_reads_as_blank() -> None:
    got = fold_marks(rows(), ["X"], ("X",))
    assert got.probs.shape == (3, len(CLASSES))
    assert got.labels.tolist() == [BLANK, 4, BLANK]
    assert got.confidence[0] == pytest.approx(0.97)
    assert got.marks[:, 0].tolist() == pytest.approx([0.97, 0.0, 0.6])
    assert np.allclose(got.probs.sum(axis=1), 1.0)


def test_a_mark_on_a_form_that_does_not_declare_it_leaves_the_box_in_doubt() -> None:
    got = fold_marks(rows(), ["X"], ())
    # the X's share is dropped, not given to a digit: the sure X is a 4 at 3% confidence, never a sure 4
    assert got.confidence[0] == pytest.approx(0.03)
    assert got.labels[1] == 4 and got.confidence[1] == pytest.approx(1.0)
    assert got.confidence[2] == pytest.approx(0.4)


def test_a_model_without_marks_passes_through() -> None:
    p = np.full((2, len(CLASSES)), 1 / len(CLASSES), np.float32)
    got = fold_marks(p, [], ("X",))
    assert np.array_equal(got.probs, p) and got.marks.shape == (2, 0)


def _card_with(tmp_path: Path, classes: list[str]) -> Path:
    model = tmp_path / "m.onnx"
    shutil.copy(SHIPPED_MODEL, model)
    card = json.loads(card_path(SHIPPED_MODEL).read_text())
    card["classes"] = classes
    card_path(model).write_text(json.dumps(card))
    return model


def test_the_card_may_list_known_marks_after_the_classes(tmp_path: Path) -> None:
    assert load_card(_card_with(tmp_path, [*CLASSES, "X"])).classes[-1] == "X"


@pytest.mark.parametrize(
    "classes",
    [[*CLASSES, "dash?"], [*CLASSES, "X", "X"], ["X", *CLASSES], list(CLASSES[:-1])],
    ids=["unknown mark", "twice", "mark first", "blank missing"],
)
def test_the_card_refuses_classes_the_reader_cannot_map(tmp_path: Path, classes: list[str]) -> None:
    with pytest.raises(ValueError, match="classes"):
        load_card(_card_with(tmp_path, classes))


def test_empty_canvases_skip_the_model_and_read_as_the_model_reads_them() -> None:
    """Blank boxes (empty canvases) get the logits the model gives an empty canvas, computed once; the
    inked ones go through the model in their own batch and come back in their places."""
    from pipeline.classifier import DigitClassifier
    from pipeline.digit_input import INPUT_SIZE

    def digit_canvas(d: int) -> np.ndarray:
        canvas = np.zeros((INPUT_SIZE, INPUT_SIZE), np.uint8)
        cv2.putText(canvas, str(d), (8, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 255, 3)
        return canvas

    clf = DigitClassifier(SHIPPED_MODEL, prefer_gpu=False, threads=1)
    inked = np.stack([digit_canvas(d) for d in (1, 7, 4)])
    empty = np.zeros((INPUT_SIZE, INPUT_SIZE), np.uint8)
    batch = np.stack([empty, inked[0], empty, inked[1], inked[2], empty])
    seen: list[int] = []
    run = clf._run

    def counted(x: np.ndarray) -> np.ndarray:
        seen.append(len(x))
        return run(x)

    clf._run = counted  # type: ignore[method-assign,assignment]
    got = clf.logits(batch)
    assert seen == [1, 3]  # the empty canvas once, then only the inked ones
    assert np.allclose(got[[1, 3, 4]], run(inked), atol=1e-5)
    assert np.allclose(got[[0, 2, 5]], run(empty[None])[0], atol=1e-5)
    clf.logits(batch)
    assert seen == [1, 3, 3]  # the empty canvas's logits are kept
    assert clf.predict(batch).labels[0] == BLANK
