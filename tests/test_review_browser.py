"""The review page in a real browser (headless Chromium driven by selenium): sign in, lease an item, see its
evidence highlighted, correct it, confirm the next one by keyboard, and find both in `modcls review export`.

Needs the Debian packages chromium and chromium-driver (.ci/run installs them) and selenium; skipped with the
reason otherwise, like the PostgreSQL tests.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import time

import pytest

pytest.importorskip("fastapi")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")

from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from modcls.cli import main  # noqa: E402
from modcls.labels import TOPICS  # noqa: E402
from modcls.moderator import Moderator  # noqa: E402
from modcls.policy import Policy  # noqa: E402
from modcls.review.store import ReviewQueue  # noqa: E402
from modcls.server.app import create_app  # noqa: E402
from modcls.server.settings import ServerSettings  # noqa: E402

TOKEN = "browser-s3cret"
ARTICLE = ("Le procès du meurtre\n\n"
           "La police a mis en examen un homme. Il est condamné pour la drogue. Le match de football.\n\n"
           "La pluie et le soleil sur la météo.\n")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,900")


def start_chromium(profile: str):
    """Headless Chromium (the system's) under chromedriver; raises WebDriverException when it cannot start."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        raise FileNotFoundError("chromium or chromedriver not found (Debian packages chromium, chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))


@pytest.fixture
def browser():
    profile = tempfile.mkdtemp(prefix="modcls-chromium-")
    try:
        driver = start_chromium(profile)
    except (FileNotFoundError, WebDriverException) as err:
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"no browser can start: {str(err).splitlines()[0]}")
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def live_server(tiny_model_dir, tmp_path):
    """A real uvicorn server on a free loopback port: tiny model routing everything to review, SQLite queue."""
    import uvicorn

    db = tmp_path / "review.sqlite"
    queue = ReviewQueue(db)
    everything = Policy.from_dict({"topics": {t: {"route": "review", "priority": "low"} for t in TOPICS}})
    app = create_app(Moderator.from_pretrained(tiny_model_dir, policy=everything), ServerSettings(api_token=TOKEN),
                     queue)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", db
    server.should_exit = True
    thread.join(10)
    queue.close()


def test_review_page_in_a_browser(browser, live_server, tmp_path, capsys):
    import httpx

    url, db = live_server
    auth = {"Authorization": f"Bearer {TOKEN}"}
    moderated = httpx.post(f"{url}/v1/moderate", json={"text": ARTICLE, "id": "a1"}, headers=auth, timeout=30).json()
    assert len(moderated["queued"]) == 3
    wait = WebDriverWait(browser, 20)

    browser.get(f"{url}/review")  # the token protects the page: sign in first
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "sign-in").click()
    reviewer = wait.until(ec.visibility_of_element_located((By.ID, "reviewer")))
    reviewer.send_keys("alice")
    browser.find_element(By.ID, "next").click()

    marks = wait.until(ec.visibility_of_all_elements_located((By.CSS_SELECTOR, "#paragraph mark.evidence")))
    ref = browser.find_element(By.ID, "item-ref").text
    item_id = int(ref.split()[0].lstrip("#"))
    item = httpx.get(f"{url}/v1/review/items/{item_id}", headers=auth).json()
    assert item["lease_owner"] == "alice" and item["evidence"]
    sentences = {e["text"] for e in item["evidence"]}
    assert {m.text for m in marks} <= sentences | {s.strip() for s in sentences}
    assert browser.find_element(By.ID, "paragraph").text == item["text"]
    assert browser.find_element(By.ID, "headline").text == "Le procès du meurtre" or item["paragraph_index"] == 0
    assert len(browser.find_elements(By.CSS_SELECTOR, "#evidence li")) == len(item["evidence"])

    browser.find_element(By.ID, "correct").click()
    Select(browser.find_element(By.ID, "topic-select")).select_by_value("politics")
    for box in browser.find_elements(By.CSS_SELECTOR, "#categories input"):
        if box.is_selected() != (box.get_attribute("value") == "drugs"):
            box.click()
    browser.find_element(By.ID, "note").send_keys("drogue seulement")
    browser.find_element(By.ID, "save").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "message"), f"Item {item_id} corrected"))

    # the next item is shown; confirm it with the keyboard
    wait.until(lambda d: d.find_element(By.ID, "item-ref").text.split()[0] != f"#{item_id}")
    second = int(browser.find_element(By.ID, "item-ref").text.split()[0].lstrip("#"))
    browser.find_element(By.TAG_NAME, "body").click()
    browser.find_element(By.TAG_NAME, "body").send_keys("c")
    wait.until(ec.text_to_be_present_in_element((By.ID, "message"), f"Item {second} confirmed"))

    browser.find_element(By.TAG_NAME, "body").send_keys("s")  # the stats view
    wait.until(ec.text_to_be_present_in_element((By.ID, "by-reviewer"), "alice"))
    assert "child_sexual_abuse" in browser.find_element(By.ID, "agreement").text

    out = tmp_path / "export.jsonl"
    capsys.readouterr()
    assert main(["review", "export", "--db", str(db), "--out", str(out)]) == 0
    rows = {r["meta"]["review_item"]: r for r in map(json.loads, out.read_text().splitlines())}
    corrected = rows[item_id]
    assert corrected["topic"] == "politics" and corrected["meta"]["decision"] == "correct"
    assert [c for c, v in corrected["sensitivity"].items() if v] == ["drugs"]
    assert corrected["meta"]["reviewer"] == "alice" and corrected["meta"]["note"] == "drogue seulement"
    assert corrected["meta"]["model_sensitivity"] == item["sensitivity"]
    assert rows[second]["meta"]["decision"] == "confirm"


def test_api_docs_render_offline(browser, live_server):
    """Swagger UI and ReDoc draw the API from assets the server serves (the browser reaches nothing else)."""
    url, _ = live_server
    wait = WebDriverWait(browser, 30)
    browser.get(f"{url}/docs")
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".swagger-ui .info .title"), "modcls"))
    assert browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path[data-path='/v1/moderate']")
    browser.get(f"{url}/redoc")
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "h1"), "modcls"))
    assert "/v1/review/next" in browser.find_element(By.TAG_NAME, "body").text
