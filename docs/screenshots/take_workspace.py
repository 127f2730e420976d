"""Screenshots of the agent workspace at 1280x800 (20-24 in this folder), from a running demo.

Start the app on the seeded demo (`make run`, or `manage.py seed_demo` and any server), then:

    .venv/bin/python docs/screenshots/take_workspace.py [--url http://127.0.0.1:8000]

Drives Debian's Chromium (CHROMIUM, default /usr/bin/chromium) through Playwright, finding controls by the
accessible names of UI.md: the queue (All) and /escalations/ as sam (tier 2, billing, who receives the
demo's billing escalations), and the ticket page of an escalated ticket with its "Why escalated" region and the
Escalate dialog as tom (tier 1)."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}


def sign_in(browser, url: str, username: str, password: str):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/tickets/.*"))
    return page


def escalated_ticket(page, url: str) -> str:
    """The newest ticket of the All view that a rule escalated (its page has a "Why escalated" region)."""
    page.goto(f"{url}/tickets/?view=all&escalated=true")
    hrefs = [link.get_attribute("href") for link in page.locator("td.subject > a").all()[:20]]
    for href in hrefs:
        page.goto(f"{url}{href}")
        if page.get_by_role("region", name="Why escalated").count() > 0:
            return href
    raise SystemExit("no ticket of the demo has a 'Why escalated' region: is this seed_demo's tenant?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--password", default="demo-pass-123")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)

        sam = sign_in(browser, args.url, "sam", args.password)
        sam.goto(f"{args.url}/tickets/?view=all")
        sam.get_by_role("table").wait_for()
        sam.screenshot(path=HERE / "20-queue.png")
        sam.goto(f"{args.url}/escalations/")
        sam.get_by_role("heading", level=1).wait_for()
        sam.screenshot(path=HERE / "24-escalations.png")

        tom = sign_in(browser, args.url, "tom", args.password)
        href = escalated_ticket(tom, args.url)
        tom.goto(f"{args.url}{href}")
        why = tom.get_by_role("region", name="Why escalated")
        why.wait_for()
        tom.screenshot(path=HERE / "21-ticket-page.png")
        why.evaluate("region => region.scrollIntoView({block: 'center'})")
        tom.screenshot(path=HERE / "22-why-escalated.png")
        tom.evaluate("window.scrollTo(0, 0)")
        tom.get_by_role("button", name="Escalate", exact=True).click()
        dialog = tom.get_by_role("dialog", name="Escalate ticket")
        dialog.wait_for()
        dialog.get_by_role("radio", name="Functional").check()
        target = dialog.get_by_role("combobox", name="Target")
        billing = [o for o in target.locator("option").all_inner_texts() if o.startswith("Billing")]
        if billing:
            target.select_option(label=billing[0])
        tom.wait_for_timeout(800)  # the routing preview ("would go to: …") answers the choice
        tom.screenshot(path=HERE / "23-escalate-dialog.png")
        browser.close()


if __name__ == "__main__":
    main()
