from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Helpdesk platform"

    def ready(self):
        # drf-spectacular finds its extensions by their classes having been defined.
        from helpdesk import openapi  # noqa: F401
