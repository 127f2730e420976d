"""The paced pass of bench/api_bench.py: N clients that each think between requests, as people and
integrations do, measured in steady state.

Why not wrk for this pass: wrk opens every connection at once and each sends its first request at
once, so 50 "clients thinking a second" start with 50 simultaneous requests. Draining that burst takes
50 x the service time over two workers, and those 50 answers are the slowest 5 % of a 20 s run: the
p95 measured the start, not the load. wrk cannot delay a connection's first request either: gunicorn's
gthread worker holds a thread on a new connection until its first bytes arrive. Here each client
connects at a random moment of the first think period and sends at once, then thinks
(0.5..1.5 x think), and only requests sent after the warm-up are counted.

Plain asyncio over keep-alive HTTP/1.1 sockets: ~0.02 cores at 50 req/s, so it does not compete with
the server for the two cores (the "client" column of the report says how much it took).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field

# The text of created tickets, shared with the wrk script of the closed-loop passes (api_bench.WRK_CREATE
# renders these lists as Lua tables), so both passes create the same mix.
SUBJECTS = [
    "Question about my invoice",
    "Cannot log in after password reset",
    "Export shows the wrong totals",
    "Dashboard is slow this week",
    "How do I add a teammate",
    "Webhook deliveries are delayed",
    "SSO setup question",
    "Report filters reset after saving",
    "Mobile app does not sync",
    "CSV import skips rows",
    "Calendar sync shows old events",
    "Notification emails arrive late",
]
CALM = [
    "Since yesterday the export shows different totals than the dashboard.",
    "We tried clearing the cache and logging in again, but nothing changed.",
    "It worked fine last week, so I suspect the latest release.",
    "We have about 40 users, mostly in the Berlin office.",
    "Could you please look into it when you have a moment? Thanks a lot!",
    "I attached a screenshot of the error and the request id from the browser console.",
    "Our finance team uses this report every Monday.",
    "Great product otherwise, we love the new reports.",
    "Steps: open the report, pick last month, press export.",
    "Is there a setting we missed?",
]
HOT = [
    "This is unacceptable. I want to speak to a manager.",
    "Please call me about this.",
    "If this is not fixed today we will talk to our lawyer.",
    "We were charged twice and want a refund.",
    "Production down for all our users, this is an emergency.",
]
HOT_CATEGORIES = ["security", "data_loss", "legal"]
CATEGORIES = ["account", "bug", "how_to", "performance", "feedback", "billing"]
PRIORITIES = ["low", "normal", "normal", "normal", "high"]
CHANNELS = ["email", "web", "chat", "api", "phone"]
# Most tickets are calm; HOT_SHARE of them carry what the default matrix escalates (two thirds say it in
# words, one third through their category). Requesters come from a pool, so some requests create a
# customer and most find one.
HOT_SHARE = 0.15
HOT_TEXT = HOT_SHARE * 2 / 3
REQUESTERS = 3000


def create_body(rng: random.Random, ref: str) -> bytes:
    """One POST /api/v1/tickets/ body, the same mix as api_bench.WRK_CREATE."""
    parts = [rng.choice(CALM) for _ in range(rng.randint(3, 5))]
    category = rng.choice(CATEGORIES)
    roll = rng.random()
    if roll < HOT_TEXT:
        parts.append(rng.choice(HOT))
    elif roll < HOT_SHARE:
        category = rng.choice(HOT_CATEGORIES)
    n = rng.randint(1, REQUESTERS)
    body = {
        "subject": f"{rng.choice(SUBJECTS)} (ref {ref})",
        "description": " ".join(parts),
        "requester": {"email": f"customer{n}@bench.test", "name": f"Bench Customer {n}"},
        "priority": rng.choice(PRIORITIES),
        "channel": rng.choice(CHANNELS),
        "category": category,
        "tags": ["bench", category],
    }
    return json.dumps(body).encode()


@dataclass(frozen=True)
class Target:
    """What one endpoint's clients send: GET a path (detail: one of `ids` under it), or POST a create."""

    path: str
    method: str = "GET"
    ids: tuple[int, ...] = ()
    token: str | None = None

    def request(self, rng: random.Random, ref: str, host: str) -> bytes:
        path, body = self.path, b""
        if self.ids:
            path = f"{self.path}{rng.choice(self.ids)}/"
        if self.method == "POST":
            body = create_body(rng, ref)
        head = [f"{self.method} {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
        if self.token:
            head.append(f"Authorization: Token {self.token}")
        head.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class Tally:
    latencies_s: list[float] = field(default_factory=list)
    n2xx: int = 0
    non2xx: int = 0
    socket_errors: int = 0
    timeouts: int = 0


async def _answer(reader: asyncio.StreamReader) -> int:
    """Reads one response; returns its status. gunicorn + Django always send Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next((int(x.split(":", 1)[1]) for x in lines[1:] if x.lower().startswith("content-length:")), 0)
    await reader.readexactly(length)
    return status


async def _client(
    number: int,
    target: Target,
    port: int,
    *,
    think_s: float,
    start: float,
    warm: float,
    end: float,
    tally: Tally,
    timeout_s: float,
) -> None:
    rng = random.Random(number * 7919)
    host = f"127.0.0.1:{port}"
    # Arrive at a random moment of the first think period, as independent clients do.
    await asyncio.sleep(rng.uniform(0, think_s * 1.5))
    reader = writer = None
    seq = 0
    while time.monotonic() < end:
        seq += 1
        sent = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(target.request(rng, f"{number}-{seq}-{int(start)}", host))
            status = await asyncio.wait_for(_answer(reader), timeout_s)
        except TimeoutError:
            tally.timeouts += sent >= warm
            writer, reader = _close(writer), None
            continue
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            tally.socket_errors += sent >= warm
            writer, reader = _close(writer), None
            continue
        if sent >= warm:
            tally.latencies_s.append(time.monotonic() - sent)
            if 200 <= status < 300:
                tally.n2xx += 1
            else:
                tally.non2xx += 1
        await asyncio.sleep(max(0.0, min(rng.uniform(think_s / 2, think_s * 1.5), end - time.monotonic())))
    _close(writer)


def _close(writer):
    if writer is not None:
        writer.close()
    return None


def _percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


async def _run(
    target: Target, port: int, *, clients: int, think_ms: int, warmup_s: float, seconds: float, timeout_s: float
) -> Tally:
    tally = Tally()
    start = time.monotonic()
    warm = start + warmup_s
    end = warm + seconds
    await asyncio.gather(
        *(
            _client(
                n,
                target,
                port,
                think_s=think_ms / 1000,
                start=start,
                warm=warm,
                end=end,
                tally=tally,
                timeout_s=timeout_s,
            )
            for n in range(1, clients + 1)
        )
    )
    return tally


def paced_run(
    target: Target, port: int, *, clients: int, think_ms: int, warmup_s: float, seconds: float, timeout_s: float = 10.0
) -> dict:
    """Figures of the requests sent in [warm-up, warm-up + seconds), in wrk_run's keys (milliseconds)."""
    tally = asyncio.run(
        _run(target, port, clients=clients, think_ms=think_ms, warmup_s=warmup_s, seconds=seconds, timeout_s=timeout_s)
    )
    ordered = sorted(tally.latencies_s)
    requests = len(ordered)
    figures = {f"p{p}_ms": round(_percentile(ordered, p) * 1000, 2) for p in (50, 90, 95, 99)}
    return {
        "clients": clients,
        # Over the window the counted requests were sent in (their answers may come a little after it).
        "rps": round(requests / seconds, 1),
        "requests": requests,
        "n2xx": tally.n2xx,
        "non2xx": tally.non2xx,
        "timeouts": tally.timeouts,
        "socket_errors": tally.socket_errors,
        **figures,
        "max_ms": round((ordered[-1] if ordered else 0) * 1000, 2),
        "mean_ms": round(sum(ordered) / requests * 1000, 2) if requests else 0.0,
    }
