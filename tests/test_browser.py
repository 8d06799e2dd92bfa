"""End to end: `streamlit run` on a free localhost port, driven by Debian chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


@pytest.fixture(scope="module")
def page_url(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real page served by `streamlit run` on 127.0.0.1 over a copy of the sample index."""
    index = tmp_path_factory.mktemp("browser") / "index"
    shutil.copytree(sample_index, index)
    port = free_port()
    env = {**os.environ, "HEALTHSEARCH_INDEX": str(index), "HEALTHSEARCH_CORPUS": str(REPO / "corpus")}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "search_app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
    ]
    server = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/_stcore/health", 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_type_query_press_enter_and_see_grouped_results(page_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(page_url, timeout=60_000)
        box = page.get_by_label("Describe a symptom or ask a health question")
        box.wait_for(timeout=90_000)
        expect(page.get_by_text("not medical advice").first).to_be_visible()
        box.fill("heel pain after running")
        box.press("Enter")
        cards = page.locator(".hs-card")
        expect(cards.first).to_be_visible(timeout=90_000)
        titles = [t.lower() for t in page.locator(".hs-title").all_inner_texts()]
        assert any("plantar" in t or "achilles" in t or "heel" in t for t in titles[:2])
        assert len(titles) == len(set(titles)), "results are grouped: one card per article"
        expect(page.locator(".hs-passage mark").first).to_be_visible()
        assert "q=heel+pain+after+running" in page.url
        page.screenshot(path=str(tmp_path / "heel-pain.png"), full_page=True)
        browser.close()
    assert (tmp_path / "heel-pain.png").stat().st_size > 10_000
