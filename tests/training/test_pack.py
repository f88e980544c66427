"""Packing a checkpoint into small parts and back, as weights leave a lent GPU machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.training.helpers import train_briefly
from training.cli import main
from training.engine import load_trained, predict_logits
from training.pack import MANIFEST, pack, unpack


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_briefly("lenet5", tmp_path_factory.mktemp("run"))


def test_pack_splits_into_parts_and_unpack_gives_the_same_model(checkpoint: Path, tmp_path: Path) -> None:
    parts = pack(checkpoint, tmp_path / "pack", part_mib=0.05)
    assert len(parts) > 1 and all(p.stat().st_size <= 0.05 * 2**20 for p in parts)
    total = sum(p.stat().st_size for p in parts)
    assert total < checkpoint.stat().st_size / 3  # no optimiser state, float16

    restored = unpack(tmp_path / "pack", tmp_path / "best.pt")
    before, state_before = load_trained(checkpoint)
    after, state_after = load_trained(restored)
    assert all(v.dtype != torch.float16 for v in after.state_dict().values())
    assert state_after["config"] == state_before["config"] and state_after["step"] == state_before["step"]
    x = torch.randn(32, 1, 32, 32)
    p_before = predict_logits(before, x).softmax(1)
    p_after = predict_logits(after, x).softmax(1)
    assert float((p_before - p_after).abs().max()) < 1e-2  # float16 weights, not bit-equal
    assert torch.equal(p_before.argmax(1), p_after.argmax(1))


def test_unpack_refuses_a_damaged_or_missing_part(checkpoint: Path, tmp_path: Path) -> None:
    parts = pack(checkpoint, tmp_path / "pack", part_mib=0.05)
    data = bytearray(parts[1].read_bytes())
    data[100] ^= 0xFF
    parts[1].write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        unpack(tmp_path / "pack", tmp_path / "best.pt")
    parts[1].unlink()
    with pytest.raises(FileNotFoundError, match="part missing"):
        unpack(tmp_path / "pack", tmp_path / "best.pt")
    assert not (tmp_path / "best.pt").exists()


def test_cli_pack_and_unpack(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pack", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "p"), "--part-mib", "0.1"]) == 0
    manifest = json.loads((tmp_path / "p" / MANIFEST).read_text())
    assert manifest["checkpoint"] == "last.pt" and len(manifest["parts"]) >= 1
    assert main(["unpack", str(tmp_path / "p"), "--out", str(tmp_path / "best.pt")]) == 0
    assert (tmp_path / "best.pt").is_file()
    assert main(["unpack", str(tmp_path), "--out", str(tmp_path / "x.pt")]) == 2  # no manifest there
    assert "manifest.json" in capsys.readouterr().err


def test_pack_and_unpack_refuse_what_they_did_not_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_a_checkpoint = tmp_path / "notes.pt"
    not_a_checkpoint.write_text("not a checkpoint")
    assert main(["pack", "--checkpoint", str(not_a_checkpoint), "--out", str(tmp_path / "p")]) == 2
    assert "not a checkpoint" in capsys.readouterr().err
    weights_only = tmp_path / "weights.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, weights_only)  # a bare state dict: no config to export with
    assert main(["pack", "--checkpoint", str(weights_only), "--out", str(tmp_path / "p")]) == 2
    assert "not a training checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / MANIFEST).write_text('{"parts": "x"}')
    assert main(["unpack", str(tmp_path / "bad"), "--out", str(tmp_path / "best.pt")]) == 2
    assert "not a manifest" in capsys.readouterr().err and not (tmp_path / "best.pt").exists()
