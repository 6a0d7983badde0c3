"""The browser the dashboard tests drive: Debian's chromium under Playwright, never a downloaded build.

Locally the browser tests are skipped, with the reason, when chromium (or Playwright) is missing; in
CI (`CI=true`) a missing browser fails them instead, so a green run always means they ran.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SCREENSHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    """Debian's chromium (`MAILSLEUTH_CHROMIUM` names another executable), or None when there is none."""
    wanted = os.environ.get("MAILSLEUTH_CHROMIUM")
    if wanted:
        return wanted if os.access(wanted, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where .ci/chromium.sh must have installed the browser."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI installs it with .ci/chromium.sh)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


@dataclass
class Console:
    """What the page reported: console errors, uncaught exceptions and failed requests."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", lambda message: message.type == "error" and self.errors.append(f"console: {message.text}"))
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("requestfailed", lambda request: self.errors.append(f"request failed: {request.url}"))


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page as screenshots/NAME.png (git-ignored) and print where, for the notes."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
