"""The web page in a real headless Chromium (Debian's ``chromium``): sample a grid, stream text, score a CSV."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest
import uvicorn
from serving_runs import save_serving_runs, transactions

from genmodels.serve import ServerSettings, create_app, load_models

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the browser extra)")


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    runs = save_serving_runs(tmp_path_factory.mktemp("browser-runs"))
    app = create_app(load_models([runs["digits"], runs["shakespeare"], runs["fraud"]]), ServerSettings())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def page(server_url):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(server_url)
        page.wait_for_selector("#model option[value=digits]", state="attached")
        yield page
        browser.close()


def test_sampling_shows_an_image_grid(page):
    page.select_option("#model", "digits")
    page.fill("#sample-form [name=n]", "9")
    page.click("#sample-form button[type=submit]")
    grid = page.wait_for_selector("#sample-grid")
    page.wait_for_function("document.querySelector('#sample-grid').naturalWidth >= 512")
    assert "9 samples of digits" in grid.get_attribute("alt")
    assert page.is_hidden("#generate-section") and page.is_visible("[data-control=labels]")


def test_generated_text_streams_into_the_page(page):
    page.select_option("#model", "shakespeare")
    page.fill("#generate-form [name=prompt]", "to be")
    page.fill("#generate-form [name=max_new_tokens]", "60")
    page.fill("#generate-form [name=seed]", "2")
    page.click("#generate-form button[type=submit]")
    page.wait_for_function("document.querySelector('#generated').dataset.state === 'done'")
    shown = page.inner_text("#generated")
    assert shown.startswith("to be") and len(shown) > len("to be") + 20
    assert page.is_hidden("#error")


def test_an_uploaded_csv_comes_back_scored_with_flagged_rows_highlighted(page, tmp_path):
    table = transactions(30, seed=2)
    table.loc[[4, 17], "amount"] = [950.0, -700.0]
    path = tmp_path / "new.csv"
    table.to_csv(path, index=False)
    page.select_option("#model", "fraud")
    page.set_input_files("#score-file", str(path))
    page.click("#score-form button[type=submit]")
    page.wait_for_selector("#scores tbody tr")
    assert page.locator("#scores tbody tr").count() == 30
    flagged_rows = page.locator("#scores tbody tr.flagged td:first-child").all_inner_texts()
    assert {"4", "17"} <= set(flagged_rows)
    assert f"{len(flagged_rows)} of 30 rows flagged" in page.inner_text("#score-summary")
    assert page.locator("#histogram rect.bar").count() == 30 and page.locator("#histogram line.threshold").count() == 1
