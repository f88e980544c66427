"""Print the OpenAPI document: `python -m service.openapi > openapi.json` (a test checks it is current)."""

from __future__ import annotations

import json
import sys
from typing import Any


def spec() -> dict[str, Any]:
    from service.app import create_app
    from service.settings import Settings

    # Defaults only, so the document does not depend on the environment it is exported from.
    return create_app(Settings(_env_file=None, database_url="sqlite://")).openapi()


def render() -> str:
    return json.dumps(spec(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
