#!/usr/bin/env bash
# Debian's chromium for the dashboard's browser tests (Playwright drives it through executable_path;
# Playwright never downloads a browser of its own). Idempotent: installs only when missing.
set -euo pipefail
if ! command -v chromium >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq chromium >&2
fi
command -v chromium >&2
