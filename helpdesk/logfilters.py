"""Filters of the log configuration (settings.LOGGING)."""

from __future__ import annotations

import logging


class ForbiddenWithoutTraceback(logging.Filter):
    """A refused request (403) is an expected answer, not a fault: Django logs it with the PermissionDenied's
    traceback, which buried real errors and read like a crash. It stays one WARNING line, with the path and
    the reason; every other record passes untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403 and record.exc_info:
            reason = str(record.exc_info[1] or "") if record.exc_info[1] is not None else ""
            if reason:
                record.msg = f"{record.msg} (%s)"
                record.args = (*(record.args or ()), reason)
            record.exc_info = None
            record.exc_text = None
        return True
