"""The memory explorer in a real browser: Debian's chromium, headless, driven through chromedriver
against `athena-mcp explore` on a store made by the tools. What a person sees is checked, and each
view's screenshot is kept in test-artifacts/explorer (ATHENA_TEST_ARTIFACTS moves it)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.ui import WebDriverWait

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.conftest import call, open_client
from tests.exchange.store_builder import build_rich_store
from tests.stdio_server import ATHENA_MCP

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ATHENA_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "explorer"
MARKUP = "<img src=x onerror=\"document.title='owned'\"><b>bold claim</b>"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("explorer-browser"),  # one store, one explorer, one browser
    pytest.mark.timeout(240),
    # CI installs both (.ci/run) and so always runs this; elsewhere it needs them installed.
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("CI"),
        reason="Debian's chromium and chromium-driver are not installed",
    ),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbedder) -> tuple[Path, int]:
    db = tmp_path_factory.mktemp("explorer") / "store.db"
    asyncio.run(build_rich_store(db, minilm))

    async def remember_markup() -> int:
        async with open_client(Settings(db=db, toolsets=("all",)), minilm) as client:
            return int((await call(client, "remember", content=MARKUP))["id"])

    return db, asyncio.run(remember_markup())


@pytest.fixture(scope="module")
def address(store: tuple[Path, int]) -> Iterator[str]:
    process = subprocess.Popen(
        [ATHENA_MCP, "--db", str(store[0]), "explore", "--no-open"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "The memory explorer of" in line, line
        yield line.split(" is at ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or "chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER or "chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def snap(browser: webdriver.Chrome, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def wait_for_text(browser: webdriver.Chrome, css: str, text: str) -> None:
    WebDriverWait(browser, 30).until(shown.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))


def open_view(browser: webdriver.Chrome, address: str, fragment: str) -> None:
    """The page as `athena-mcp explore` opens it (its token in the address), then one of its views."""
    browser.get(address)
    WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#namespace option"))
    browser.execute_script("location.hash = arguments[0]", fragment)


def open_row(browser: webdriver.Chrome, address: str, fragment: str, column: int, text: str) -> None:
    """A listing view, then the row whose `column`th cell reads `text`, clicked."""
    open_view(browser, address, fragment)
    wait_for_text(browser, "main table", text)
    browser.find_element(By.XPATH, f"//main//tr[td[{column}][text()='{text}']]").click()


def test_a_person_searches_and_reads_a_facts_history_and_lineage(
    browser: webdriver.Chrome, address: str
) -> None:
    browser.get(address)  # the token arrives in the fragment and leaves the address bar
    WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#namespace option"))
    assert "token" not in browser.current_url
    box = browser.find_element(By.CSS_SELECTOR, "input[name=q]")
    box.send_keys("when does the release train leave", Keys.ENTER)
    wait_for_text(browser, "main table", "Wednesdays")
    first = browser.find_element(By.CSS_SELECTOR, "main tbody tr")
    assert "The release train leaves on Wednesdays" in first.text
    snap(browser, "search")
    first.click()
    wait_for_text(browser, "#memory-content", "The release train leaves on Wednesdays")
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "Earlier versions" in page and "The release train leaves on Thursdays" in page and "moved" in page
    assert "rated helpful 1" in page
    snap(browser, "memory")


def test_sessions_procedures_tasks_and_an_entitys_neighbourhood(
    browser: webdriver.Chrome, address: str
) -> None:
    open_row(browser, address, "#sessions", 2, "s1")
    wait_for_text(browser, "main", "Session s1")
    assert "run pytest" in browser.find_element(By.TAG_NAME, "main").text
    snap(browser, "session")

    open_row(browser, address, "#procedures", 2, "Deploy")
    wait_for_text(browser, "main", "Goal: ship a release")
    steps = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "main ol li")]
    assert steps == ["build", "test", "deploy"]
    snap(browser, "procedure")

    open_view(browser, address, "#tasks")
    wait_for_text(browser, "main table", "Write changelog")
    assert "Tag release" in browser.find_element(By.TAG_NAME, "main").text
    snap(browser, "tasks")

    open_row(browser, address, "#graph?q=Mar", 1, "Maria")
    WebDriverWait(browser, 30).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "svg circle")) >= 2)
    labels = {label.text for label in browser.find_elements(By.CSS_SELECTOR, "svg text")}
    assert {"Maria", "Athena"} <= labels
    side = browser.find_element(By.CSS_SELECTOR, ".graph > div").text
    assert "reviews migrations" in side and "works_on" in side and "Athena, Maria" in side
    snap(browser, "entity")


def test_stored_markup_is_shown_as_text_never_run(
    browser: webdriver.Chrome, address: str, store: tuple[Path, int]
) -> None:
    open_view(browser, address, f"#memory/{store[1]}")
    wait_for_text(browser, "#memory-content", "bold claim")
    assert browser.find_element(By.ID, "memory-content").text == MARKUP
    assert not browser.find_elements(By.CSS_SELECTOR, "main img, main b")
    assert browser.title != "owned"


def test_without_its_token_the_page_says_how_to_open_it(browser: webdriver.Chrome, address: str) -> None:
    browser.get(address.split("#")[0] + "#timeline")
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    wait_for_text(browser, "#status", "needs the server's token")
    assert "error" in browser.find_element(By.ID, "status").get_attribute("class")
    snap(browser, "no-token")
