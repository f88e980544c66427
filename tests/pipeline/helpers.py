"""Hand-made box probabilities for the decoding tests."""

from __future__ import annotations

import numpy as np

from pipeline.digit_input import BLANK, CLASSES
from pipeline.fields import BoxEvidence


def box(label: int, p: float = 0.99, ink: bool | None = None) -> BoxEvidence:
    probs = np.full(len(CLASSES), (1 - p) / (len(CLASSES) - 1), np.float32)
    probs[label] = p
    return BoxEvidence(probs, label != BLANK if ink is None else ink, (0, 0, 10, 10))


def box_probs(text: str, alt: dict[int, tuple[str, float]] | None = None, p: float = 0.97) -> np.ndarray:
    """Box probabilities for `text` ('_' blank), with optional (box -> (class, probability)) runners-up."""
    out = np.full((len(text), len(CLASSES)), (1 - p) / (len(CLASSES) - 1), np.float32)
    for i, ch in enumerate(text):
        out[i, BLANK if ch == "_" else int(ch)] = p
    for i, (ch, q) in (alt or {}).items():
        top = int(out[i].argmax())
        out[i, BLANK if ch == "_" else int(ch)] = q
        out[i, top] = 1 - q - (len(CLASSES) - 2) * (1 - p) / (len(CLASSES) - 1)
    return out


def runoff_probs(**overrides: np.ndarray) -> dict[str, np.ndarray]:
    """A consistent runoff acta: 40 + 164 = 204; 204 + 2 + 3 = 209; 209 + 31 = 240."""
    texts = {
        "presidente.PDC": "040",
        "presidente.LIBRE": "164",
        "presidente.VOTOS_VALIDOS": "204",
        "presidente.VOTOS_BLANCOS": "002",
        "presidente.VOTOS_NULOS": "003",
        "mesa.ELECTORES_HABILITADOS": "240",
        "mesa.PAPELETAS_EN_ANFORA": "209",
        "mesa.PAPELETAS_NO_UTILIZADAS": "031",
    }
    probs = {k: box_probs(v) for k, v in texts.items()}
    probs.update({k.replace("__", "."): v for k, v in overrides.items()})
    return probs


# A runoff acta whose parties add up to 204 where VOTOS_VALIDOS says 205; the other two rules hold.
RUNOFF_PARTIES_OFF_BY_ONE = {
    "presidente.PDC": 40,
    "presidente.LIBRE": 164,
    "presidente.VOTOS_VALIDOS": 205,
    "presidente.VOTOS_BLANCOS": 2,
    "presidente.VOTOS_NULOS": 3,
    "mesa.ELECTORES_HABILITADOS": 240,
    "mesa.PAPELETAS_EN_ANFORA": 210,
    "mesa.PAPELETAS_NO_UTILIZADAS": 30,
}
