"""The tickets app's domain errors: what its services raise and every door reports (the API as its error
shape, the admin as a form error), so entry points catch them without importing the services."""


class TicketError(Exception):
    """A refused change. `code` is the API's error slug; `status` its HTTP status."""

    def __init__(self, message: str, *, code: str = "invalid_transition", status: int = 409, field: str | None = None):
        super().__init__(message)
        self.code, self.status, self.field = code, status, field


class AuthorityError(TicketError):
    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message, code="permission_denied", status=403, field=field)
