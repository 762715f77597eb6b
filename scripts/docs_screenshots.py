"""The README's pictures, from a running cluster: the vote and result pages of one environment,
in headless Chromium (Debian's package, driven by selenium), and `./orchestrator.sh status`.

Run after `./orchestrator.sh create`, with the same ORCHESTRATOR_* settings:
    .venv/bin/python scripts/docs_screenshots.py [dev|prod]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.browser import headless_chromium  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
# NodePorts of the front doors (inventory/group_vars/all/stacks.yml).
PORTS = {"dev": {"vote": 31000, "result": 31001}, "prod": {"vote": 32000, "result": 32001}}


def main(environment: str = "dev") -> int:
    if environment not in PORTS:
        print(f"usage: {sys.argv[0]} [dev|prod]", file=sys.stderr)
        return 2
    host = os.environ.get("ORCHESTRATOR_PUBLISH_IP", "127.0.0.1")
    OUT.mkdir(parents=True, exist_ok=True)
    with headless_chromium() as browser:
        browser.get(f"http://{host}:{PORTS[environment]['vote']}/")
        WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "a"))
        browser.save_screenshot(str(OUT / "vote.png"))
        browser.get(f"http://{host}:{PORTS[environment]['result']}/")
        # Live: the scores arrived and the "reconnecting" banner is hidden.
        WebDriverWait(browser, 30).until(
            lambda d: d.find_element(By.ID, "result").text and not d.find_element(By.ID, "connection").is_displayed()
        )
        browser.save_screenshot(str(OUT / "result.png"))
    status = subprocess.run([str(ROOT / "orchestrator.sh"), "status"], capture_output=True, text=True, check=True)
    (OUT / "status.txt").write_text(status.stdout)
    for name in ("vote.png", "result.png", "status.txt"):
        print(f"wrote docs/screenshots/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
