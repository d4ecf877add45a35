"""Screenshot of the review page (``docs/review-page.png``): a server on a free loopback port with a model
(default: the shipped one, ``fast``) and a fresh queue, one article moderated, its most urgent item leased in
headless Chromium.

    python docs/review_screenshot.py [--model DIR] [--precision fast] [--article examples/article.txt]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model")
    parser.add_argument("--precision", default="fast")
    parser.add_argument("--article", type=Path, default=REPO / "examples" / "article.txt")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "review-page.png")
    parser.add_argument("--size", default="1280,1000")
    parser.add_argument("--skip", type=int, default=1,
                        help="items leased to a colleague first, so that the page shows a later one (default 1)")
    args = parser.parse_args()

    import httpx
    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from modcls.moderator import Moderator
    from modcls.review.store import ReviewQueue
    from modcls.server.app import create_app
    from modcls.server.settings import ServerSettings

    work = Path(tempfile.mkdtemp(prefix="modcls-shot-"))
    queue = ReviewQueue(work / "review.sqlite")
    app = create_app(Moderator.from_pretrained(args.model, precision=args.precision), ServerSettings(), queue)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    answer = httpx.post(f"{url}/v1/moderate", json={"text": args.article.read_text(encoding="utf-8"),
                                                    "id": "ouest-2026-11-14-ofmin"}, timeout=120).json()
    print(f"article route {answer['route']}, queued {answer['queued']}", file=sys.stderr)
    for _ in range(args.skip):
        httpx.post(f"{url}/v1/review/next", json={"reviewer": f"collègue {_ + 1}"})

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("google-chrome")
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={args.size}")
    options.add_argument(f"--user-data-dir={work / 'profile'}")
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")))
    try:
        driver.get(f"{url}/review")
        driver.find_element(By.ID, "reviewer").send_keys("hélène")
        driver.find_element(By.ID, "next").click()
        WebDriverWait(driver, 30).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "mark.evidence")))
        driver.find_element(By.ID, "correct").click()  # show the correction form too
        time.sleep(0.3)
        driver.save_screenshot(str(args.out))
        print(f"screenshot written to {args.out}", file=sys.stderr)
    finally:
        driver.quit()
        server.should_exit = True
        queue.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
