"""The load scenario of bench/load_bench.py (run by locust's CLI, never imported by the tests: locust
monkey-patches the standard library with gevent on import).

Agents (4 in 5 users) list their queue, open a ticket, read its thread and now and then reply;
integrations (1 in 5) create tickets with an Idempotency-Key. Every user has its own API token (the
write rate limit is per token, as in production), each thinks 0.5-1.5 s between requests. The driver
passes the tokens and the ticket ids in the file named by LOAD_FIXTURE."""

import json
import os
import random
import uuid

from locust import FastHttpUser, between, task

FIXTURE = json.loads(open(os.environ["LOAD_FIXTURE"]).read())  # noqa: SIM115 - read once at import
_agent_tokens = list(FIXTURE["agent_tokens"])
_integration_tokens = list(FIXTURE["integration_tokens"])


def _take(pool: list[str], every: list[str]) -> str:
    return pool.pop() if pool else random.choice(every)


class Agent(FastHttpUser):
    weight = 4
    wait_time = between(0.5, 1.5)

    def on_start(self):
        token = _take(_agent_tokens, FIXTURE["agent_tokens"])
        self.headers = {"Authorization": f"Token {token}"}

    def _ticket(self) -> int:
        return random.choice(FIXTURE["open_ticket_ids"])

    @task(4)
    def list_queue(self):
        view = random.choice(["", "?status=open", "?ordering=-created_at", "?priority=high"])
        self.client.get(f"/api/v1/tickets/{view}", headers=self.headers, name="GET /api/v1/tickets/")

    @task(4)
    def read(self):
        ticket = self._ticket()
        self.client.get(f"/api/v1/tickets/{ticket}/", headers=self.headers, name="GET /api/v1/tickets/{id}/")
        self.client.get(
            f"/api/v1/tickets/{ticket}/messages/", headers=self.headers, name="GET /api/v1/tickets/{id}/messages/"
        )

    @task(1)
    def reply(self):
        body = {"body": "Thanks for the details, we are looking into it now.", "author_type": "agent"}
        headers = {**self.headers, "Idempotency-Key": str(uuid.uuid4())}
        self.client.post(
            f"/api/v1/tickets/{self._ticket()}/messages/",
            json=body,
            headers=headers,
            name="POST /api/v1/tickets/{id}/messages/",
        )


class Integration(FastHttpUser):
    weight = 1
    wait_time = between(0.5, 1.5)

    def on_start(self):
        token = _take(_integration_tokens, FIXTURE["integration_tokens"])
        self.headers = {"Authorization": f"Token {token}"}

    @task
    def create(self):
        n = random.randrange(1_000_000)
        body = {
            "subject": f"Load: export fails #{n}",
            "description": "Since this morning the export fails with error 500. Please help.",
            "requester": {"email": f"load{n % 500}@load.test", "name": "Load"},
            "category": "bug",
            "tags": ["load"],
        }
        headers = {**self.headers, "Idempotency-Key": str(uuid.uuid4())}
        self.client.post("/api/v1/tickets/", json=body, headers=headers, name="POST /api/v1/tickets/")
