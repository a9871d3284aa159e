"""Open report.html in headless Chromium, save a screenshot, and check no image is missing.

The screenshot is the whole page, 1280 px wide, up to 32,768 px tall (``browser.MAX_HEIGHT``:
a report of thousands of records is taller, and is cut there).

    python scripts/screenshot_report.py [runs/report/report.html] [--out report.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnbench.report.render.browser import render


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", nargs="?", type=Path, default=Path("runs/report/report.html"))
    parser.add_argument("--out", type=Path, default=None, help="default: beside the page")
    args = parser.parse_args()
    out = args.out or args.page.with_name("report_screenshot.png")
    loaded, total = render(args.page, out)
    print(f"{args.page}: {loaded}/{total} images decoded in Chromium; screenshot: {out}")
    return 0 if loaded == total and total > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
