from django.apps import AppConfig


class CallnotesConfig(AppConfig):
    name = "callnotes"
    verbose_name = "Call notes"

    def ready(self):
        # The escalation message's supporting documentation names the calls and artifacts of the ticket; the
        # escalation app sits below this one and may not read them itself (DESIGN.md, Layering).
        from callnotes.selectors import ticket_documents
        from escalation import communication

        if ticket_documents not in communication.DOCUMENT_SOURCES:
            communication.DOCUMENT_SOURCES.append(ticket_documents)
