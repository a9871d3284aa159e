"""Render report.html in headless Chromium: a screenshot, and whether every image decoded."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

# Flags for a machine with no display and no outside network: without the background-networking
# ones Chromium keeps trying to reach its update and sync services.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--run-all-compositor-stages-before-draw",
         "--virtual-time-budget=10000"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") \
        or shutil.which("google-chrome")


# A screenshot is as tall as the page, up to this (2**15): a window this tall took Chromium ~8 s
# and ~490 MB on a 2-core machine, one of 40,000 px 17 s and once over 2 minutes. A taller page
# (a report of 2,000 records is ~140,000 px, thousands of table rows) is cut here.
MAX_HEIGHT = 32_768
# The window a page is first laid out in, to count its images and measure it: a page shorter
# than this is measured as this tall (the window's own height).
MEASURE_HEIGHT = 600


def _run(exe: str, profile: str, *args: str) -> str:
    return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=True).stdout


def _exe() -> str:
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("no Chromium found (Debian: apt-get install chromium)")
    return exe


def measure(page: Path, width: int = 1280) -> tuple[int, int, int]:
    """(images decoded, images on the page, the page's height in CSS pixels) as Chromium laid
    it out ``width`` wide; the page's own script says them (``html.IMAGE_CHECK``)."""
    with tempfile.TemporaryDirectory() as profile:
        dom = _run(_exe(), profile, f"--window-size={width},{MEASURE_HEIGHT}", "--dump-dom",
                   page.resolve().as_uri())
    found = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    if not found:
        raise RuntimeError("the page's image check did not run in Chromium")
    tall = re.search(r'data-page-height="(\d+)"', dom)
    if not tall:
        raise RuntimeError("the page's height was not measured in Chromium")
    return int(found.group(1)), int(found.group(2)), int(tall.group(1))


def render(page: Path, screenshot: Path | None = None, width: int = 1280,
           height: int | None = None) -> tuple[int, int]:
    """(images decoded, images on the page) as Chromium saw them; optionally a PNG screenshot
    ``width`` wide and ``height`` tall: by default the whole page (``measure``), up to
    ``MAX_HEIGHT``."""
    loaded, total, tall = measure(page, width)
    if screenshot is not None:
        with tempfile.TemporaryDirectory() as profile:
            _run(_exe(), profile, f"--screenshot={screenshot.resolve()}",
                 f"--window-size={width},{height or min(tall, MAX_HEIGHT)}",
                 page.resolve().as_uri())
    return loaded, total
