"""A real browser votes, and the result page updates live without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.apps.vote.processes import (
    REPO,
    result_service,
    service_env,
    vote_service,
    wait_http,
    worker_service,
)
from tests.support.servers import PostgresServer, RedisServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Debian's chromium and chromium-driver packages are required (scripts/bootstrap.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1000,700",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def stack(
    redis_server: RedisServer,
    postgres_server: PostgresServer,
    redis_client: redis.Redis,
    pg: psycopg.Connection,
    tmp_path: Path,
) -> Iterator[tuple[str, str]]:
    env = service_env(
        redis_server,
        postgres_server,
        OPTION_A="Tabs",
        OPTION_B="Spaces",
        WORKER_HEALTH_FILE=str(tmp_path / "alive"),
        WORKER_BLOCK_TIMEOUT="0.2",
    )
    with (
        worker_service(env, tmp_path / "worker.log"),
        vote_service(env, workers=1, log=tmp_path / "vote.log") as vote,
        result_service(env, tmp_path / "result.log") as result,
    ):
        wait_http(f"{vote}/healthz")
        wait_http(f"{result}/healthz")
        yield vote, result


def text_becomes(driver: webdriver.Chrome, element_id: str, expected: str) -> None:
    WebDriverWait(driver, 15).until(
        lambda d: d.find_element(By.ID, element_id).text == expected,
        f"#{element_id} never showed {expected!r}",
    )


def vote_for(driver: webdriver.Chrome, choice: str) -> None:
    """Click a ballot button and wait for the answer page to mark that choice."""
    WebDriverWait(driver, 15).until(lambda d: d.find_element(By.ID, choice)).click()
    # The old page's button goes stale while the POST's answer loads.
    WebDriverWait(driver, 15, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
        lambda d: d.find_element(By.ID, choice).get_attribute("aria-pressed") == "true",
        f"the vote page never marked {choice!r} as chosen",
    )


def test_a_vote_and_a_change_show_up_live_on_the_result_page(browser: webdriver.Chrome, stack: tuple[str, str]) -> None:
    vote, result = stack
    browser.get(result)
    results_tab = browser.current_window_handle
    assert "Tabs" in browser.find_element(By.ID, "choice-a").text
    text_becomes(browser, "result", "No votes yet")
    # Survives only if the page is never reloaded.
    browser.execute_script("window.loadedOnce = 'yes'")

    browser.switch_to.new_window("tab")
    vote_tab = browser.current_window_handle
    browser.get(vote)
    assert "Processed by container ID" in browser.find_element(By.ID, "hostname").text
    vote_for(browser, "a")

    browser.switch_to.window(results_tab)
    text_becomes(browser, "result", "1 vote")
    text_becomes(browser, "percent-a", "100.0%")

    browser.switch_to.window(vote_tab)
    vote_for(browser, "b")

    browser.switch_to.window(results_tab)
    text_becomes(browser, "percent-b", "100.0%")
    assert browser.find_element(By.ID, "result").text == "1 vote", "a changed vote must count once"
    assert browser.execute_script("return window.loadedOnce") == "yes", "the page was reloaded"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "vote-result-live.png"))
