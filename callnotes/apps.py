from django.apps import AppConfig


class CallnotesConfig(AppConfig):
    name = "callnotes"
    verbose_name = "Call notes"
