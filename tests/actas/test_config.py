"""The command's edge: flags and ACTAS_* variables become one ReaderConfig; the core reads no environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from actas.config import mnist_dir, reader_config, views
from pipeline.config import SHIPPED_MODEL
from pipeline.views import DEFAULT_VIEWS, SINGLE_VIEW


def test_the_views_come_from_the_environment() -> None:
    assert views({}) == DEFAULT_VIEWS
    assert views({"ACTAS_VIEWS": " identity "}) == SINGLE_VIEW
    with pytest.raises(ValueError, match="upside-down"):
        views({"ACTAS_VIEWS": "identity,upside-down"})


def test_flags_win_over_the_environment(tmp_path: Path) -> None:
    env = {"ACTAS_MODEL_PATH": "/models/other.onnx", "ACTAS_TEMPLATES_DIR": str(tmp_path)}
    config = reader_config(env=env)
    assert config.model == Path("/models/other.onnx") and config.templates_dirs == (tmp_path,)
    config = reader_config(model=SHIPPED_MODEL, templates_dir=tmp_path / "x", cpu=True, env=env)
    assert config.model == SHIPPED_MODEL and config.templates_dirs == (tmp_path / "x",) and not config.prefer_gpu
    assert reader_config(env={}).model == SHIPPED_MODEL and reader_config(env={}).templates_dirs == ()
    assert mnist_dir(env={"ACTAS_MNIST_DIR": "/m"}) == Path("/m") and mnist_dir(tmp_path, env={}) == tmp_path


def test_the_core_reads_no_environment() -> None:
    core = Path(__file__).resolve().parents[2] / "pipeline"
    readers = [
        p.name
        for p in core.rglob("*.py")
        if any(word in p.read_text(encoding="utf-8") for word in ("os.environ", "getenv", "environ.get"))
    ]
    assert readers == []
