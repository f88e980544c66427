#!/usr/bin/env bash
# Debian's Chromium for the review page's browser tests (Playwright drives /usr/bin/chromium; nothing is
# downloaded by `playwright install`). Installs it with apt when missing and this is root; otherwise says
# so and exits 0: the browser tests then fail with their own message.
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_chromium: chromium is missing and this is not root: apt-get install -y chromium" >&2
    exit 0
fi
if ! (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium); then
    echo "ensure_chromium: apt-get could not install chromium" >&2
    exit 0
fi
echo "ensure_chromium: installed $(chromium --version 2>/dev/null)" >&2
