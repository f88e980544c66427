"""The synthetic acta generator: counts that obey (or break one of) the form's rules, MNIST test digits
only, deterministic per seed, a truth.json that `actas eval` takes, and scans the real reader can read."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from actas.cli import main
from actas.evaluation import load_truth
from actas.synth.counts import draw_counts
from actas.synth.generate import SynthConfig, file_name, generate, synth_acta
from actas.synth.handwriting import MNIST_TEST_IMAGES, MnistTest, layout, load_mnist_test
from pipeline.reader import ActaReader
from pipeline.rules import RuleSet
from pipeline.templates import Template, load_templates
from tests.conftest import MNIST, REPO

TEMPLATES = load_templates()
N_READ = 3  # actas per template generated once and shared by the tests below


@pytest.fixture(scope="module")
def mnist() -> MnistTest:
    return load_mnist_test(MNIST)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, mnist: MnistTest) -> dict[str, Path]:
    out = {}
    for tid, tpl in TEMPLATES.items():
        out[tid] = tmp_path_factory.mktemp(tid)
        generate(out[tid], SynthConfig(tpl, seed=7), N_READ, mnist, progress=False)
    return out


@pytest.mark.parametrize("tid", sorted(TEMPLATES))
def test_counts_obey_every_rule_and_fit_their_boxes(tid: str) -> None:
    tpl = TEMPLATES[tid]
    rng = np.random.default_rng(0)
    for _ in range(100):
        counts = draw_counts(tpl, rng)
        assert counts.mistake is None
        assert all(RuleSet.holds(r, counts.values) for r in tpl.rules)
        for name, value in counts.values.items():
            assert 0 <= value < 10 ** tpl.fields[name][1].digits


@pytest.mark.parametrize("tid", sorted(TEMPLATES))
def test_a_juror_mistake_breaks_exactly_one_rule(tid: str) -> None:
    tpl = TEMPLATES[tid]
    rng = np.random.default_rng(1)
    kinds, rules = set(), set()
    for _ in range(100):
        counts = draw_counts(tpl, rng, break_rule=True)
        broken = [r.name for r in tpl.rules if not RuleSet.holds(r, counts.values)]
        m = counts.mistake
        assert m is not None and broken == [m.rule]
        assert counts.values[m.field] == m.written != m.correct
        assert 0 <= m.written < 10 ** tpl.fields[m.field][1].digits
        kinds.add(m.kind)
        rules.add(m.rule)
    assert kinds == {"off_by", "transposition", "carry"}
    assert rules == {r.name for r in tpl.rules if r.op == "=="}  # every printed sum can be the broken one


def test_counts_are_generic_over_the_template() -> None:
    """A made-up form: a rule with several fields on both sides, and a field in no rule."""
    tpl = Template.model_validate(
        {
            "id": "made-up",
            "title": "t",
            "sections": [
                {
                    "key": "s",
                    "title": "S",
                    "fields": [
                        {"key": k, "label": k, "digits": d} for k, d in zip("ABCDEF", [4, 3, 3, 3, 3, 2], strict=True)
                    ],
                }
            ],
            "rules": [
                {"name": "total", "left": ["s.A"], "right": ["s.B", "s.C"]},
                {"name": "cross", "left": ["s.B", "s.D"], "right": ["s.C", "s.E"]},
            ],
            "variants": [
                {
                    "id": "V",
                    "reference": "none.jpg",
                    "size": [10, 10],
                    "boxes": {f"s.{k}": [0, 0, 1, 1] for k in "ABCDEF"},
                }
            ],
        }
    )
    rng = np.random.default_rng(2)
    for _ in range(50):
        counts = draw_counts(tpl, rng)
        assert all(RuleSet.holds(r, counts.values) for r in tpl.rules)
        assert set(counts.values) == set(tpl.field_keys)
        broken = draw_counts(tpl, rng, break_rule=True)
        assert sum(not RuleSet.holds(r, broken.values) for r in tpl.rules) == 1


def test_layout_of_a_number_over_its_boxes() -> None:
    assert layout(8, 3, "zeros") == [0, 0, 8]
    assert layout(8, 3, "right") == [None, None, 8]
    assert layout(41, 3, "left") == [4, 1, None]
    assert layout(0, 3, "zeros") == [0, 0, 0]
    assert layout(None, 3, "zeros") == [None, None, None]
    with pytest.raises(ValueError):
        layout(1000, 3, "zeros")


def test_generation_is_deterministic_per_seed_and_acta(generated: dict[str, Path], mnist: MnistTest) -> None:
    tpl = TEMPLATES["bo2025-runoff"]
    again = synth_acta(SynthConfig(tpl, seed=7), mnist, 1)  # acta 1 alone, not as one of N_READ
    assert again.image == (generated[tpl.id] / file_name(1)).read_bytes()
    assert again.truth == json.loads((generated[tpl.id] / "truth.json").read_text())["actas"][file_name(1)]
    other = synth_acta(SynthConfig(tpl, seed=8), mnist, 1)
    assert other.image != again.image


@pytest.mark.parametrize("tid", sorted(TEMPLATES))
def test_truth_loads_and_matches_what_was_written(generated: dict[str, Path], mnist: MnistTest, tid: str) -> None:
    tpl = TEMPLATES[tid]
    truth = load_truth(generated[tid])
    side = json.loads((generated[tid] / "synth.json").read_text())
    assert truth.form == tid and truth.source == "synthetic, seed 7"
    assert sorted(truth.actas) == [file_name(i) for i in range(N_READ)]
    assert side["mnist"] == {"file": f"{MNIST_TEST_IMAGES}.gz", "split": "test"}
    for name, acta in truth.actas.items():
        assert (generated[tid] / name).is_file()
        rec = side["actas"][name]
        assert rec["variant"] in {v.id for v in tpl.variants}
        assert {"rotation", "dpi", "blur", "noise", "jpeg_quality", "grayscale"} <= set(rec["scan"])
        values = {f"{s}.{k}": v for s, kv in acta.counts.items() for k, v in kv.items()}
        assert set(values) == set(tpl.field_keys)
        assert acta.mesa_code is None or re.fullmatch(r"\d{3,7}(-\d)?", acta.mesa_code)  # as the form prints it
        obeyed = [RuleSet.holds(r, values) for r in tpl.rules]
        assert all(obeyed) if rec["rules_obeyed"] else obeyed.count(False) == 1
        # Every digit written is an MNIST test image of that digit, in the box the juror's style puts it.
        expected = [
            (name_, i, d)
            for name_ in tpl.field_keys
            for i, d in enumerate(layout(values[name_], tpl.fields[name_][1].digits, rec["style"]))
            if d is not None
        ]
        assert [tuple(d[:3]) for d in rec["digits"]] == expected
        for _field, _box, label, index in rec["digits"]:
            assert mnist.labels[index] == label


def test_only_the_mnist_test_split_is_needed(tmp_path: Path) -> None:
    only_test = tmp_path / "mnist"
    only_test.mkdir()
    for f in MNIST.glob("t10k-*"):
        (only_test / f.name).symlink_to(f)
    status = main(
        ["synth", str(tmp_path / "out"), "-n", "1", "--template", "bo2025-runoff", "--mnist", str(only_test), "--quiet"]
    )
    assert status == 0
    assert load_truth(tmp_path / "out").actas


def test_missing_mnist_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["synth", str(tmp_path / "out"), "--template", "bo2025-runoff", "--mnist", str(tmp_path / "none")])
    assert status == 2
    assert "MNIST test files not found" in capsys.readouterr().err


def test_the_generator_does_not_import_torch() -> None:
    code = "import sys, actas.synth.generate; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False).returncode == 0


@pytest.mark.parametrize("tid", sorted(TEMPLATES))
def test_the_reader_reads_synthetic_actas(generated: dict[str, Path], reader: ActaReader, tid: str) -> None:
    """Registration finds the synthetic forms and the box borders; the digits mostly read right, and
    those that do not are flagged for review."""
    truth = load_truth(generated[tid])
    side = json.loads((generated[tid] / "synth.json").read_text())
    fields = good = 0
    for name, acta in truth.actas.items():
        reading = reader.read((generated[tid] / name).read_bytes())
        assert (reading.template, reading.variant) == (tid, side["actas"][name]["variant"])
        for f in reading.fields:
            fields += 1
            good += f.value == acta.counts[f.section][f.key] or f.needs_review
    assert good / fields >= 0.9
