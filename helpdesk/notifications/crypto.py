"""Encryption at rest of what lets someone post as us: channel URLs (they embed tokens) and webhook
secrets (we need them back to sign). Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from
NOTIFICATIONS_KEY, or SECRET_KEY when that is unset."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

# Domain separation: the same SECRET_KEY signs sessions; this key must differ from anything else derived.
KEY_CONTEXT = b"helpdesk.notifications.v1:"


class SecretUnreadable(Exception):
    """A stored secret can't be decrypted: the key changed since it was stored."""


def _fernet() -> Fernet:
    material = (settings.NOTIFICATIONS_KEY or settings.SECRET_KEY).encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(KEY_CONTEXT + material).digest()))


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode() if text else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "stored secret can't be decrypted (was NOTIFICATIONS_KEY or SECRET_KEY changed?)"
        ) from None
