"""The review as PDF: the HTML page printed by headless Chromium (`--print-to-pdf`), for people
who read it away from a screen. Chromium lays out the same page the HTML review is, so the PDF
needs no second renderer; it is found as `TRUENORTH_CHROMIUM`, else `chromium` on the PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_SECONDS = 120.0


class PdfError(RuntimeError):
    """Why no PDF was written (one line, for the CLI)."""


def find_chromium() -> str:
    configured = os.environ.get("TRUENORTH_CHROMIUM")
    if configured:
        if shutil.which(configured) is None:
            raise PdfError(f"TRUENORTH_CHROMIUM={configured} is not an executable")
        return configured
    for name in CANDIDATES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise PdfError(
        "--format pdf prints with headless Chromium, and none was found (install `chromium`, "
        "e.g. scripts/install-chromium.sh, or set TRUENORTH_CHROMIUM)"
    )


def render_pdf(html: str, out: Path, chromium: str | None = None) -> int:
    """Print `html` to `out`; returns the PDF's size in bytes."""
    browser = chromium or find_chromium()
    with tempfile.TemporaryDirectory(prefix="truenorth-review-") as scratch:
        page = Path(scratch) / "review.html"
        page.write_text(html, encoding="utf-8")
        printed = Path(scratch) / "review.pdf"
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(scratch) / 'profile'}",
            f"--print-to-pdf={printed}",
            page.as_uri(),
        ]
        if os.geteuid() == 0:  # Chromium refuses to run as root with its sandbox
            command.insert(1, "--no-sandbox")
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not print within {TIMEOUT_SECONDS:g}s") from None
        if not printed.is_file() or printed.stat().st_size == 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PdfError(f"Chromium wrote no PDF (exit {done.returncode}): {detail[0]}")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(printed, out)
    return out.stat().st_size
