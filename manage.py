#!/usr/bin/env python
"""Django's command-line utility. With DATABASE_URL / REDIS_URL unset it uses the embedded servers."""

import os
import sys


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    from helpdesk.embedded import EmbeddedError, ensure_services
    from helpdesk.env import EnvError

    try:
        services = ensure_services()
    except EmbeddedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    except EnvError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
