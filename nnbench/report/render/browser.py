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


def render(page: Path, screenshot: Path | None = None, width: int = 1280,
           height: int = 4000) -> tuple[int, int]:
    """(images decoded, images on the page) as Chromium saw them; optionally a PNG screenshot."""
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("no Chromium found (Debian: apt-get install chromium)")
    url = page.resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        base = [exe, *FLAGS, f"--user-data-dir={profile}"]
        dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True,
                             timeout=120, check=True).stdout
        if screenshot is not None:
            subprocess.run([*base, f"--screenshot={screenshot.resolve()}",
                            f"--window-size={width},{height}", url],
                           capture_output=True, timeout=120, check=True)
    found = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    if not found:
        raise RuntimeError("the page's image check did not run in Chromium")
    return int(found.group(1)), int(found.group(2))
