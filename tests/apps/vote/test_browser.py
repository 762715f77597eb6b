"""A real browser votes, and the result page updates live without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
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
from tests.support.browser import headless_chromium
from tests.support.servers import PostgresServer, RedisServer

ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    with headless_chromium() as driver:
        yield driver


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


# WCAG 2 contrast of every element with text of its own, against the first
# opaque background behind it (opacity blended in); AA asks 4.5:1, or 3:1 for
# large text (24px, or 18.66px bold).
CONTRAST_FAILURES_JS = """
const parse = (s) => { const p = s.match(/rgba?\\(([^)]+)\\)/)[1].split(',').map(parseFloat);
                       return { rgb: p.slice(0, 3), a: p.length > 3 ? p[3] : 1 }; };
const lum = (rgb) => { const [r, g, b] = rgb.map((v) => { v /= 255;
  return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
const background = (el) => { for (; el; el = el.parentElement) {
  const c = parse(getComputedStyle(el).backgroundColor); if (c.a > 0) return c.rgb; } return [255, 255, 255]; };
const opacity = (el) => { let o = 1;
  for (; el; el = el.parentElement) o *= parseFloat(getComputedStyle(el).opacity); return o; };
const failures = [];
for (const el of document.querySelectorAll('body *')) {
  const style = getComputedStyle(el);
  if (style.display === 'none' || style.visibility === 'hidden' || el.closest('[hidden]')) continue;
  if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
  const bg = background(el);
  const o = opacity(el);
  const fg = parse(style.color).rgb.map((v, i) => v * o + bg[i] * (1 - o));
  const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  const ratio = (hi + 0.05) / (lo + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (parseInt(style.fontWeight, 10) >= 700 && size >= 18.66);
  if (ratio < (large ? 3 : 4.5))
    failures.push(`#${el.id || el.tagName} ${ratio.toFixed(2)}:1 (${style.color} on rgb(${bg}))`);
}
return failures;
"""


def test_every_text_passes_wcag_aa_contrast(browser: webdriver.Chrome, stack: tuple[str, str]) -> None:
    vote, result = stack
    browser.get(vote)
    assert browser.execute_script(CONTRAST_FAILURES_JS) == [], "vote page"
    vote_for(browser, "b")
    assert browser.execute_script(CONTRAST_FAILURES_JS) == [], "vote page with a choice"
    browser.get(result)
    assert browser.execute_script(CONTRAST_FAILURES_JS) == [], "result page"
    browser.execute_script("document.getElementById('connection').hidden = false")
    assert browser.execute_script(CONTRAST_FAILURES_JS) == [], "result page, reconnecting"


def test_the_result_page_shows_it_is_reconnecting_when_the_socket_drops(
    browser: webdriver.Chrome, postgres_server: PostgresServer, pg: psycopg.Connection, tmp_path: Path
) -> None:
    env = service_env(postgres=postgres_server)
    with result_service(env, tmp_path / "result.log") as result:
        wait_http(f"{result}/healthz")
        browser.get(result)
        text_becomes(browser, "result", "No votes yet")
        banner = browser.find_element(By.ID, "connection")
        assert not banner.is_displayed()
    # The server is gone: the page must not go on looking live.
    WebDriverWait(browser, 15).until(lambda d: banner.is_displayed(), "no visible reconnecting state")
    assert "Reconnecting" in banner.text
