"""The default call-note template: the seeds' structure (seed 000, "How to Keep Call Notes Structured").

- pre-call: account context, ticket history, reproduction steps, environment, error logs and screenshots,
  escalation reason, desired outcome — and what scheduling needs (contact, phone or meeting link, preferred
  times: the fields whose absence makes escalations bounce back);
- live: a header (date, time, caller, purpose), then issue confirmation -> diagnosis steps -> discussed
  resolutions, and customer concerns, proposed solutions, follow-ups;
- post-call: the root cause in one sentence, the resolution, action items with owner and due date, tags, and
  a customer-facing summary (sent only when a person approves it).
"""

from __future__ import annotations

DEFAULT_TEMPLATE_NAME = "Escalation call (default)"


def _f(key: str, label: str, type: str = "text", *, required: str = "", visibility: str = "internal", **extra) -> dict:
    return {"key": key, "label": label, "type": type, "required": required, "visibility": visibility, **extra}


DEFAULT_SECTIONS: dict[str, list[dict]] = {
    "pre_call": [
        _f("contact", "Customer contact", required="scheduling"),
        _f("phone_or_link", "Phone or meeting link", required="scheduling"),
        _f("preferred_times", "Preferred times", required="scheduling"),
        _f("account_context", "Account context"),
        _f("ticket_history", "Ticket history"),
        _f("reproduction_steps", "Reproduction steps", "list"),
        _f("environment", "Environment"),
        _f("error_logs", "Error logs and screenshots", "artifact"),
        _f("escalation_reason", "Escalation reason"),
        _f("desired_outcome", "Desired outcome"),
    ],
    "live": [
        _f("header", "Date, time, caller, purpose"),
        _f("issue_confirmation", "Issue confirmation"),
        _f("diagnosis_steps", "Diagnosis steps", "list"),
        _f("discussed_resolutions", "Discussed resolutions", "list"),
        _f("customer_concerns", "Customer concerns", "list"),
        _f("proposed_solutions", "Proposed solutions", "list"),
        _f("follow_ups", "Follow-ups", "list"),
    ],
    "post_call": [
        _f("root_cause", "Root cause (one sentence)", required="completion"),
        _f("resolution", "Resolution", required="completion"),
        _f("action_items", "Action items (owner, due date)", "list"),
        _f("tags", "Tags", "list"),
        _f("customer_summary", "Customer-facing summary", required="completion", visibility="customer"),
    ],
}
