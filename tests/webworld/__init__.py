"""Company websites served on loopback for the crawler (see world.py)."""

from tests.webworld.world import Response, WebWorld, html, huge, plain, raw, redirect

__all__ = ["Response", "WebWorld", "html", "huge", "plain", "raw", "redirect"]
