"""`make run` lets webhooks and channels reach this machine for its local demo, and says so in its
banner with the way to turn it off; a choice made by the caller stands and is not announced."""

import os

from helpdesk import launch

URL = "http://127.0.0.1:8000/"


def test_it_allows_private_networks_for_the_demo_and_says_so(monkeypatch):
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE_NETWORKS", raising=False)
    assert launch.allow_private_networks_for_the_demo() is True
    assert os.environ["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] == "1"
    banner = launch._banner(URL, private_networks=True)
    assert "may reach this machine and private networks on any port" in banner
    assert "WEBHOOK_ALLOW_PRIVATE_NETWORKS=0 make run" in banner


def test_it_keeps_the_callers_choice_and_then_says_nothing(monkeypatch):
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "0")
    assert launch.allow_private_networks_for_the_demo() is False
    assert os.environ["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] == "0"
    assert "private networks" not in launch._banner(URL, private_networks=False)
