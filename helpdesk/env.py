"""Typed readers for environment variables that fail loudly, naming the variable.

Settings are 12-factor: everything that differs between a laptop and production comes from the
environment. A wrong value must stop the process at start with one clear line, not surface later
as a confusing error deep inside a request.
"""

import os
from urllib.parse import urlsplit


class EnvError(Exception):
    """A missing or malformed environment variable. The message names the variable."""


_MISSING = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str, default):
    value = os.environ.get(name)
    if value is None:
        if default is _MISSING:
            raise EnvError(f"{name} is not set")
        return default
    return value


def env_str(name: str, default=_MISSING) -> str:
    return _raw(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name, None)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise EnvError(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name, None)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise EnvError(f"{name}={number} is below the minimum of {minimum}")
    if maximum is not None and number > maximum:
        raise EnvError(f"{name}={number} is above the maximum of {maximum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name, None)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int_list(name: str, default: list[int], *, minimum: int, maximum: int) -> list[int]:
    """A comma-separated list of whole numbers, each within [minimum, maximum]; an empty list is refused."""
    numbers = []
    for item in env_list(name, [str(number) for number in default]):
        try:
            number = int(item)
        except ValueError:
            raise EnvError(f"{name}: {item!r} is not a whole number") from None
        if not minimum <= number <= maximum:
            raise EnvError(f"{name}: {number} is outside {minimum}-{maximum}")
        numbers.append(number)
    if not numbers:
        raise EnvError(f"{name} is empty")
    return numbers


def env_url(name: str, *, schemes: set[str], default=_MISSING) -> str:
    value = _raw(name, default)
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise EnvError(f"{name} must be a URL with one of the schemes {allowed}; got {parts.scheme or 'none'!r}")
    if parts.scheme not in {"unix"} and not (parts.hostname or parts.path):
        raise EnvError(f"{name} has no host")
    return value
