"""The voting app on the created cluster, through its NodePorts as a user
reaches them: a vote shows up in result's API and, live, in a real browser;
a vote storm while workers and the database are killed counts every voter's
last vote, exactly."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.created_cluster import CreatedCluster, eventually
from tests.e2e.harness import REPO, docker
from tests.support.browser import headless_chromium

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "tests" / "artifacts"
STORM_VOTERS = 250
STORM_VOTES_PER_VOTER = 5
STORM_THREADS = 16


def vote(session: requests.Session, url: str, choice: str) -> None:
    """One vote as a browser casts it (the session keeps the voter_id cookie); retried until it is taken."""
    last: object = None
    for _attempt in range(20):
        try:
            answer = session.post(url + "/", data={"vote": choice}, allow_redirects=False, timeout=15)
            if answer.status_code == 303:
                return
            last = f"HTTP {answer.status_code}: {answer.text[:200]}"
        except requests.RequestException as error:
            last = error
        time.sleep(1)
    raise AssertionError(f"vote {choice!r} never taken: {last}")


def test_a_vote_through_the_vote_nodeport_appears_in_the_result_api(created_cluster: CreatedCluster) -> None:
    before = created_cluster.scores("dev")
    voter = requests.Session()
    vote(voter, created_cluster.url("dev", "vote"), "b")
    assert voter.cookies.get("voter_id"), "the vote page set no voter_id cookie"
    expected = {"a": before["a"], "b": before["b"] + 1}
    eventually(lambda: created_cluster.scores("dev") == expected, 60, f"result's /api/scores showing {expected}")
    # The ballot names the pod that served it.
    page = voter.get(created_cluster.url("dev", "vote") + "/", timeout=10).text
    pods = [pod["metadata"]["name"] for pod in created_cluster.pods("dev", "vote")]
    assert any(f"Processed by container ID {name}" in page for name in pods), page[-500:]


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    with headless_chromium() as driver:
        yield driver


def total_text(total: int) -> str:
    return "No votes yet" if total == 0 else ("1 vote" if total == 1 else f"{total} votes")


def test_the_result_page_in_chromium_shows_a_browser_vote_live(
    created_cluster: CreatedCluster, browser: webdriver.Chrome
) -> None:
    before = created_cluster.scores("dev")
    browser.get(created_cluster.url("dev", "result"))
    results_tab = browser.current_window_handle
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "result").text == total_text(before["a"] + before["b"]),
        "the result page never showed the current total",
    )
    assert "Cats" in browser.find_element(By.ID, "choice-a").text
    # Survives only if the page is never reloaded.
    browser.execute_script("window.loadedOnce = 'yes'")

    browser.switch_to.new_window("tab")
    browser.get(created_cluster.url("dev", "vote"))
    WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "a")).click()
    WebDriverWait(browser, 15, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
        lambda d: d.find_element(By.ID, "a").get_attribute("aria-pressed") == "true",
        "the vote page never marked the choice",
    )

    browser.switch_to.window(results_tab)
    expected = total_text(before["a"] + before["b"] + 1)
    WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.ID, "result").text == expected, f"the result page never showed {expected!r} live"
    )
    assert browser.execute_script("return window.loadedOnce") == "yes", "the page was reloaded"
    assert created_cluster.scores("dev") == {"a": before["a"] + 1, "b": before["b"]}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "e2e-result-live.png"))


def kill_container(cluster: CreatedCluster, namespace: str, pod_name: str) -> int:
    """SIGKILL the pod's (first) container in its node's containerd, as a crash would; its restart count before."""
    pod = cluster.get("pod", pod_name, namespace=namespace)
    status = pod["status"]["containerStatuses"][0]
    container_id = status["containerID"].split("://", 1)[1]
    docker("exec", pod["spec"]["nodeName"], "ctr", "-n", "k8s.io", "tasks", "kill", "--signal", "SIGKILL", container_id)
    return status["restartCount"]


def wait_restarted(cluster: CreatedCluster, namespace: str, pod_name: str, restarts_before: int) -> None:
    def restarted_and_ready() -> bool:
        pod = cluster.get("pod", pod_name, namespace=namespace)
        return pod["status"]["containerStatuses"][0]["restartCount"] > restarts_before and cluster.pod_ready(pod)

    eventually(restarted_and_ready, 180, f"{namespace}/{pod_name} restarted after SIGKILL and Ready")


def test_a_vote_storm_while_workers_and_the_db_are_killed_counts_each_voters_last_vote(
    created_cluster: CreatedCluster,
) -> None:
    # prod: two vote pods and two workers, so votes of one voter can land on either worker.
    namespace = "prod"
    url = created_cluster.url(namespace, "vote")
    before = created_cluster.scores(namespace)
    total_votes = STORM_VOTERS * STORM_VOTES_PER_VOTER
    sent = Counter[str]()
    lock = threading.Lock()
    rng = random.Random(11)
    plans = [[rng.choice("ab") for _vote in range(STORM_VOTES_PER_VOTER)] for _voter in range(STORM_VOTERS)]

    def voter(plan: list[str]) -> str:
        session = requests.Session()
        for choice in plan:
            vote(session, url, choice)
            with lock:
                sent["votes"] += 1
            time.sleep(0.4)  # about 35 votes/s over 16 threads: the storm lasts half a minute, the kills are in it
        return session.cookies["voter_id"]

    kills: list[tuple[str, int]] = []

    def killer() -> None:
        """SIGKILL a worker at 15% of the votes, the db at 40%, the other worker at 65%."""
        workers = [pod["metadata"]["name"] for pod in created_cluster.pods(namespace, "worker")]
        for share, pod in ((0.15, workers[0]), (0.40, "db-0"), (0.65, workers[-1])):
            eventually(lambda share=share: sent["votes"] >= share * total_votes, 300, "storm progress", 0.2)
            kills.append((pod, kill_container(created_cluster, namespace, pod)))
            kills_at.append(sent["votes"])

    kills_at: list[int] = []
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=STORM_THREADS + 1) as pool:
        killing = pool.submit(killer)
        voter_ids = list(pool.map(voter, plans))
        killing.result()
    storm_seconds = time.monotonic() - start
    assert len(kills) == 3 and max(kills_at) < total_votes, f"the kills came after the storm: {kills_at}"
    for pod, restarts in kills:
        wait_restarted(created_cluster, namespace, pod, restarts)
    assert len(set(voter_ids)) == STORM_VOTERS, "voters shared a voter_id cookie"

    last_votes = {voter_id: plan[-1] for voter_id, plan in zip(voter_ids, plans, strict=True)}
    tally = Counter(last_votes.values())
    expected = {"a": before["a"] + tally["a"], "b": before["b"] + tally["b"]}
    eventually(lambda: created_cluster.scores(namespace) == expected, 240, f"scores reaching {expected}", 3)
    drained = time.monotonic() - start
    # Exactly: each voter's row holds their last vote, and nothing arrives late to change the counts.
    rows = created_cluster.psql(namespace, "db-0", "SELECT id || ' ' || vote FROM votes")
    stored = dict(line.split(" ", 1) for line in rows.splitlines() if line)
    assert {voter_id: stored.get(voter_id) for voter_id in last_votes} == last_votes
    time.sleep(10)
    assert created_cluster.scores(namespace) == expected, "votes were counted again after the storm"
    created_cluster.figures["vote_storm"] = (
        f"{total_votes} votes from {STORM_VOTERS} voters in {storm_seconds:.0f}s, counted after {drained:.0f}s; "
        f"SIGKILLed {', '.join(f'{pod} at vote {at}' for (pod, _signal), at in zip(kills, kills_at, strict=True))}"
    )
