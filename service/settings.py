"""Service settings, from the environment (prefix `ACTAS_`) or a `.env` file.

`ACTAS_MODEL_PATH` and `ACTAS_TEMPLATES_DIR` are the same variables the pipeline reads, so
`actas read` and the service agree on which model and forms they use.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.config import SHIPPED_MODEL, ReaderConfig
from pipeline.image_io import DEFAULT_MAX_PIXELS
from pipeline.views import DEFAULT_VIEWS, check_views, parse_views

MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ACTAS_", env_file=".env", extra="ignore", protected_namespaces=("settings_",)
    )

    database_url: str = Field(
        default="sqlite:///./actas.db",
        description="SQLAlchemy URL: an SQLite file by default, or postgresql+psycopg://...",
    )
    model_path: Path | None = Field(default=None, description="ONNX digit model; default: the shipped one")
    templates_dir: Path | None = Field(
        default=None, description="form templates added to the built-in ones (same id replaces)"
    )
    views: str = Field(
        default=",".join(DEFAULT_VIEWS),
        description="test-time views for the second look at a broken rule's boxes; 'identity' turns it off",
    )
    max_upload_bytes: int = Field(default=20 * MiB, gt=0, description="largest accepted scan file")
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, gt=0, description="largest decoded image (decompression bombs)")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, description="server processes (each loads the model once)")
    concurrency: int = Field(
        default_factory=lambda: max(1, os.cpu_count() or 1),
        ge=1,
        description="scans read at once per process; more wait their turn",
    )
    overlay_concurrency: int = Field(
        default=1,
        ge=1,
        description="audit overlays drawn at once per process, apart from the read slots; more wait their turn",
    )
    threads: int = Field(default=1, ge=0, description="onnxruntime threads per reading (0: its default)")
    prefer_gpu: bool = True
    flag_notes: bool = Field(default=True, description="a note written in the form's notes box flags every field")
    public_results: bool = Field(default=False, description="let anyone read GET /results without a key")
    log_level: str = "INFO"

    def resolved_model(self) -> Path:
        return self.model_path or SHIPPED_MODEL

    @field_validator("views")
    @classmethod
    def _known_views(cls, value: str) -> str:
        check_views(parse_views(value))
        return value

    def resolved_views(self) -> tuple[str, ...]:
        return parse_views(self.views)

    def reader_config(self) -> ReaderConfig:
        """The reader these settings ask for (the service's one edge to the core's configuration)."""
        return ReaderConfig(
            model=self.resolved_model(),
            templates_dirs=(self.templates_dir,) if self.templates_dir else (),
            prefer_gpu=self.prefer_gpu,
            threads=self.threads,
            views=self.resolved_views(),
            max_pixels=self.max_pixels,
            flag_notes=self.flag_notes,
        )
