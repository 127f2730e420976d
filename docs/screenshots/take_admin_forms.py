"""Screenshots of the managers' admin forms (03, 11, 12, 13 in this folder), from a running demo.

Start the app on the seeded demo (`make run`, or `manage.py seed_demo` and any server), then:

    .venv/bin/python docs/screenshots/take_admin_forms.py [--url http://127.0.0.1:8000]

Drives Debian's Chromium (CHROMIUM, default /usr/bin/chromium) through Playwright, signed in as maya."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--password", default="demo-pass-123")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{args.url}/")
        page.fill("input[name=username]", "maya")
        page.fill("input[name=password]", args.password)
        page.click("button[type=submit]")
        page.wait_for_selector("h1")

        page.goto(f"{args.url}/admin/escalation/escalationrule/")
        page.screenshot(path=HERE / "03-escalation-matrix.png")

        page.goto(f"{args.url}/admin/escalation/escalationrule/add/")
        page.locator("#id_name").press_sequentially("Refunds and chargebacks")
        page.select_option("#id_trigger", "keyword")
        chips = page.get_by_label("Keywords: add one")
        for word in ("refund", "chargeback", "charged twice"):
            chips.fill(word)
            chips.press("Enter")
        page.select_option("#id_kind", "functional")
        page.select_option("#id_target_team", label="Billing (tier 2, billing, refunds)")
        page.fill("#id_response_minutes", "120")
        page.screenshot(path=HERE / "11-escalation-rule-form.png", full_page=True)

        page.goto(f"{args.url}/admin/slas/slapolicy/")
        page.click("text=VIP")
        page.wait_for_selector("#slapolicy_form")
        page.screenshot(path=HERE / "12-sla-policy-form.png", full_page=True)

        page.goto(f"{args.url}/admin/slas/businesscalendar/")
        page.click("text=Business hours")
        page.wait_for_selector("table.week-hours")
        page.screenshot(path=HERE / "13-business-calendar-week-grid.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
