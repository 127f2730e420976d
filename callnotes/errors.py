"""The calls app's domain error: what its services raise and every door reports (the API as its error shape,
the admin as a message), so entry points catch it without importing the services."""


class CallError(Exception):
    def __init__(self, message: str, *, code: str = "invalid", status: int = 400, fields: dict | None = None):
        super().__init__(message)
        self.code, self.status, self.fields = code, status, fields or {}
