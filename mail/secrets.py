"""The provider webhook's secret, as stored: a SHA-256 of "user:password" (no salt needed: it is a random
credential the tenant's admin generates, not a person's password). Pure, so the API and services share it."""

import hashlib


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
