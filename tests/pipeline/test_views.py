"""Test-time views: each is a small change of a written digit, blanks stay blank, probabilities average."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.digit_input import INPUT_SIZE, center_digit
from pipeline.views import (
    DEFAULT_VIEWS,
    SINGLE_VIEW,
    VIEWS,
    average_over_views,
    expand,
    second_look,
)
from tests.conftest import MNIST
from training.data.sources import load_mnist


def _digits(n: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    test = load_mnist(MNIST, "test")
    return np.stack([center_digit(im) for im in test.images[:n]]), test.labels[:n].astype(np.int64)


def test_every_view_keeps_a_digit_in_the_canvas_and_a_blank_blank() -> None:
    canvases, _ = _digits(20)
    blank = np.zeros((1, INPUT_SIZE, INPUT_SIZE), np.uint8)
    for name in VIEWS:
        seen = expand(canvases, (name,))
        assert seen.shape == canvases.shape and seen.dtype == np.uint8
        assert not expand(blank, (name,)).any(), name
        ink = seen.reshape(len(seen), -1).sum(axis=1) / canvases.reshape(len(canvases), -1).sum(axis=1)
        assert np.all((ink > 0.6) & (ink < 2.5)), name  # a change of the digit, not a loss of it
    assert np.array_equal(expand(canvases, ("identity",)), canvases)
    thick = expand(canvases, ("thicken",))
    assert np.all((thick > 24).sum(axis=(1, 2)) > (canvases > 24).sum(axis=(1, 2)))


def test_expand_stacks_the_views_in_order() -> None:
    canvases, _ = _digits(3)
    out = expand(canvases, ("identity", "rotate+8"))
    assert out.shape == (6, INPUT_SIZE, INPUT_SIZE)
    assert np.array_equal(out[:3], canvases) and not np.array_equal(out[3:], canvases)
    with pytest.raises(ValueError, match="unknown"):
        expand(canvases, ("mirror",))


def test_written_boxes_are_averaged_over_the_views_and_blanks_read_once() -> None:
    canvases, _ = _digits(4)
    canvases = np.concatenate([canvases[:2], np.zeros((1, INPUT_SIZE, INPUT_SIZE), np.uint8), canvases[2:]])
    seen: list[int] = []

    def predict(x: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        seen.append(len(x))
        ink = x.reshape(len(x), -1).mean(axis=1, dtype=np.float64) / 255  # a stand-in model: P(class 0) = ink
        return np.stack([ink, 1 - ink], axis=1).astype(np.float32)

    probs = average_over_views(predict, canvases, DEFAULT_VIEWS)
    # every box once (the identity view), then only the 4 written ones in each other view: the blank once
    assert seen == [5, 4 * (len(DEFAULT_VIEWS) - 1)]
    assert probs[2].tolist() == [0.0, 1.0]
    for i in (0, 1, 3, 4):
        expected = np.mean([predict(expand(canvases[i : i + 1], (n,)))[0] for n in DEFAULT_VIEWS], axis=0)
        assert np.allclose(probs[i], expected, atol=1e-6)


def test_the_second_look_rereads_only_the_suspects_and_follows_new_suspicion() -> None:
    canvases, _ = _digits(5)
    canvases[1] = 0  # a blank box of field a: nothing to look at again
    fields = ["a", "a", "b", "b", "c"]
    calls: list[int] = []

    def predict(x: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        calls.append(len(x))
        ink = x.reshape(len(x), -1).mean(axis=1, dtype=np.float64) / 255  # a stand-in model: P(class 0) = ink
        return np.stack([ink, 1 - ink], axis=1).astype(np.float32)

    rounds = iter([{"a"}, {"a", "b"}, {"a", "b"}])  # the re-read of `a` breaks a rule that names `b`
    probs = second_look(predict, canvases, fields, lambda _: next(rounds), DEFAULT_VIEWS)
    new_views = len(DEFAULT_VIEWS) - 1  # the first reading is the identity view
    assert calls == [5, 1 * new_views, 2 * new_views]  # all once, then a's written box, then b's two
    # the re-read boxes hold what average_over_views gives, the others their first reading
    calls.clear()
    assert np.allclose(probs[[0, 2, 3]], average_over_views(predict, canvases[[0, 2, 3]], DEFAULT_VIEWS), atol=1e-6)
    assert np.allclose(probs[[1, 4]], predict(canvases[[1, 4]]))

    calls.clear()
    second_look(predict, canvases, fields, lambda _: set(), DEFAULT_VIEWS)
    assert calls == [5]  # the rules hold at the first look: one reading
    calls.clear()
    second_look(predict, canvases, fields, lambda _: {"a", "b", "c"}, SINGLE_VIEW)
    assert calls == [5]  # one view: nothing to look at again
