"""Who else has a ticket open, and who is replying: a few seconds of state per person in Redis (a hash per
ticket, refreshed by each page's heartbeat), never in the database — there is nothing to keep."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis

from helpdesk.auth import Principal
from helpdesk.redis_client import shared_client

TTL_S = 30  # a page beats every 10 s; three missed beats and the person is gone


@dataclass(frozen=True)
class Present:
    name: str
    state: str  # viewing | replying


def _key(tenant_id: int, ticket_id: int) -> str:
    return f"presence:{tenant_id}:{ticket_id}"


def beat(principal: Principal, ticket_id: int, state: str) -> list[Present]:
    """Records this person on the ticket and returns the others there now. Redis down: nobody is shown (the
    page works on without it)."""
    key, me, now = _key(principal.tenant.pk, ticket_id), str(principal.membership.pk), time.time()
    name = principal.membership.user.get_full_name() or principal.membership.user.get_username()
    try:
        client = shared_client()
        pipe = client.pipeline()
        pipe.hset(key, me, json.dumps({"name": name, "state": state, "at": now}))
        pipe.expire(key, TTL_S)
        pipe.hgetall(key)
        entries = pipe.execute()[-1]
    except redis.RedisError:
        return []
    others = []
    for member, raw in sorted(entries.items()):
        entry = json.loads(raw)
        if member.decode() != me and now - entry["at"] < TTL_S:
            others.append(Present(name=entry["name"], state=entry["state"]))
    return others
