"""Schemathesis over the whole OpenAPI document (/api/schema/), in-process against the real app and database.

Every operation gets generated requests (the examples, coverage and fuzzing phases: valid and invalid bodies,
query parameters, ids, methods) with the token of an agent, a manager or an admin of tenant A, and each answer
must be no 5xx and conform to the schema: its status documented, its body and headers as the schema says.

Two tenants: tenant B ("globex") holds one of every object, each carrying MARK in its text. No answer to
tenant A's tokens may contain MARK; a request aimed at one of B's objects (its id put in the path) must not
succeed; and after each operation's run every row of B is as it was.

The run is bounded here (FUZZ_EXAMPLES per operation, derandomized, so the suite is repeatable); `make fuzz`
runs the same test with more examples, a random seed and any phases given in FUZZ_PHASES.

One check is off: positive_data_acceptance (ST202, "a schema-valid request must be accepted"). JSON Schema
cannot say what the API rightly refuses: a rule's conditions depend on its trigger, ids must exist in the
caller's tenant, a calendar needs working hours or always_open, a cursor is an opaque token, a UTC offset
must be below 16 h. The schema was tightened where it could say it (enums for ordering, bounds of page_size,
no unknown fields in a request body, the webhook secret required on create).
"""

import os
import secrets
from contextlib import contextmanager

import pytest
import schemathesis
from django.apps import apps
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test
from rest_framework.test import APIClient
from schemathesis.specs.openapi.checks import positive_data_acceptance

from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import api_token_create, team_create
from helpdesk.tenancy import tenant_context

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
FUZZ_SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "10"))
FUZZ_PHASES = os.environ.get("FUZZ_PHASES", "examples,coverage,fuzzing,stateful").split(",")
FUZZ_RANDOM = os.environ.get("FUZZ_RANDOM", "") == "1"
# Drawn afresh for each run: schemathesis feeds the string constants of the test module into its requests,
# and a fixed mark came back in an answer as an echo of what the request itself had sent.
MARK = f"globex-{secrets.token_hex(8)}"
ROLES = (Role.AGENT, Role.MANAGER, Role.ADMIN)
# The first segment of a path under /api/v1/ names the resource whose id stands in `{id}`.
RESOURCES = (
    "tickets",
    "escalations",
    "escalation-rules",
    "calendars",
    "sla-policies",
    "accounts",
    "customers",
    "teams",
    "webhooks",
)


class InTheTestTransaction:
    """Django's WSGI handler run as its test client runs it: without the request signals' connection
    housekeeping, which would close the connection that holds the test's open transaction."""

    def __init__(self):
        self.handler = WSGIHandler()

    def __call__(self, environ, start_response):
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            response = self.handler(environ, start_response)
            body = b"".join(response)
            response.close()  # sends request_finished while the housekeeping is off
            return [body]
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)


@schemathesis.serializer("message/rfc822")
def _raw_mail(ctx, value) -> bytes:
    """POST /inbound/email/ takes a raw mail: generated values go as their bytes (any bytes must be answered)."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")


schema = schemathesis.openapi.from_wsgi("/api/schema/", InTheTestTransaction())
schema.config.phases.update(phases=FUZZ_PHASES)


def _seed(client: APIClient, tenant, mark: str) -> dict[str, list[int]]:
    """One of every object of the API in the tenant, through the API (so clocks, rules and escalations follow),
    each with `mark` in its text. Returns the ids per resource."""

    def post(path: str, body: dict) -> dict:
        response = client.post(f"/api/v1/{path}", body, format="json")
        assert response.status_code in (201, 202), (path, response.content)
        return response.json()

    team = team_create(tenant=tenant, name=f"{mark} billing", skills=["billing"], tier=2)
    account = post("accounts/", {"name": f"{mark} Holdings", "plan": "enterprise", "vip": True})
    customer = post("customers/", {"email": f"{mark.lower()}@example.test", "name": mark, "account": account["id"]})
    ticket = post(
        "tickets/",
        {
            "subject": f"{mark}: charged twice, refund or I call my lawyer",
            "description": f"{mark} wants a refund of the duplicate charge.",
            "requester": {"email": customer["email"], "name": mark},
            "priority": "high",
            "category": "billing",
            "tags": ["vip"],
        },
    )
    post(f"tickets/{ticket['id']}/messages/", {"body": f"{mark} still waiting", "author_type": "customer"})
    post(f"tickets/{ticket['id']}/attempts/", {"outcome": "failed", "tier": 1, "note": f"{mark} tried"})
    summary = {
        name: f"{mark} {name}" for name in ("problem", "tried", "emotional_state", "desired_outcome", "account_context")
    }
    escalation = post(
        f"tickets/{ticket['id']}/escalate/",
        {"kind": "functional", "reason": mark, "target_team": team.pk, "summary": summary},
    )
    rule = post(
        "escalation-rules/",
        {
            "name": f"{mark} rule",
            "slug": "confidential-rule",
            "trigger": "keyword",
            "conditions": {"keywords": [mark.lower()]},
            "kind": "functional",
            "target_team": team.pk,
        },
    )
    calendar = post("calendars/", {"name": f"{mark} hours", "timezone": "Europe/Paris", "always_open": True})
    policy = post(
        "sla-policies/",
        {"name": f"{mark} policy", "calendar": calendar["id"], "targets": {"first_response": 60}},
    )
    webhook = post(
        "webhooks/",
        {"url": f"http://127.0.0.1:9/{mark.lower()}", "events": ["ticket.created"], "secret": f"{mark}-webhook-secret"},
    )
    return {
        "tickets": [ticket["id"]],
        "escalations": [escalation["id"]],
        "escalation-rules": [rule["id"]],
        "calendars": [calendar["id"]],
        "sla-policies": [policy["id"]],
        "accounts": [account["id"]],
        "customers": [customer["id"]],
        "teams": [team.pk],
        "webhooks": [webhook["id"]],
    }


def _admin_client(tenant) -> APIClient:
    _, key = api_token_create(tenant=tenant, role=Role.ADMIN, label="fuzz seed")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _rows_of(tenant) -> dict[str, list[tuple]]:
    """Every row of the tenant, by model: its id and, where it has one, its updated_at."""
    rows = {}
    with tenant_context(tenant):
        for model in apps.get_models():
            if not hasattr(model, "unscoped") or model._meta.proxy:
                continue
            columns = ["pk", "updated_at"] if any(f.name == "updated_at" for f in model._meta.fields) else ["pk"]
            rows[model._meta.label] = sorted(model.objects.values_list(*columns))
    return rows


@pytest.fixture(scope="module")
def fuzz_world(django_db_setup, django_db_blocker):
    """Both tenants, seeded once for the module inside a transaction that is rolled back at its end (each
    operation's run gets a savepoint of its own, fuzz_run)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            ours = workflows.tenant_bootstrap(slug="acme", name="Acme Corp")
            theirs = workflows.tenant_bootstrap(slug="globex", name="Globex")
            world = {
                "tokens": {role: api_token_create(tenant=ours, role=role, label="fuzz")[1] for role in ROLES},
                "ours": _seed(_admin_client(ours), ours, "acme"),
                "theirs": _seed(_admin_client(theirs), theirs, MARK),
                "their_tenant": theirs,
            }
            world["their_rows"] = _rows_of(theirs)
            yield world
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def fuzz_run(fuzz_world):
    """One operation's run: its writes are rolled back after it, and tenant B must be untouched by then."""
    with transaction.atomic():
        yield fuzz_world
        after = _rows_of(fuzz_world["their_tenant"])
        transaction.set_rollback(True)
    assert after == fuzz_world["their_rows"], "a request with tenant A's token changed tenant B's rows"


def _settings(**kwargs) -> settings:
    # Derandomized in the suite: the same requests on every run, so a failure is a change, not luck.
    return settings(
        deadline=None,
        derandomize=not FUZZ_RANDOM,
        database=None,
        suppress_health_check=list(HealthCheck),
        **kwargs,
    )


@contextmanager
def _rolled_back():
    """Each example or scenario starts from the seeded world, so hypothesis can replay (and shrink) what it
    found: with the rows of earlier examples still there, a replay would meet another world."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _aim(case, target: str, world) -> bool:
    """Puts one of our objects' ids, or one of tenant B's, in the path's {id}; True when it is B's."""
    if target == "generated" or "id" not in (case.path_parameters or {}):
        return False
    resource = case.path.removeprefix("/api/v1/").split("/")[0]
    if resource not in RESOURCES:
        return False
    case.path_parameters["id"] = world[target][resource][0]
    return target == "theirs"


@schema.parametrize()
@schema.given(role=st.sampled_from(ROLES), target=st.sampled_from(["generated", "ours", "theirs"]))
@_settings(max_examples=FUZZ_EXAMPLES)
def test_every_operation_answers_generated_requests_within_its_schema_and_its_tenant(case, role, target, fuzz_run):
    theirs = _aim(case, target, fuzz_run)
    with _rolled_back():
        response = case.call_and_validate(
            headers={"Authorization": f"Token {fuzz_run['tokens'][role]}"},
            excluded_checks=[positive_data_acceptance],
        )
    assert MARK not in response.text.lower(), "tenant B's data in an answer to tenant A"
    if theirs:
        assert response.status_code >= 400, f"{case.method} {case.formatted_path}: tenant B's object answered"


def test_scenarios_of_linked_operations_stay_within_the_schema_and_the_tenant(fuzz_run):
    """Chains along the schema's links (a create, then the operations on what it created: helpdesk.openapi),
    with an admin's token, the one that reaches every operation."""
    token = fuzz_run["tokens"][Role.ADMIN]

    class Scenarios(schema.as_state_machine()):
        def setup(self):
            self.scenario = _rolled_back()
            self.scenario.__enter__()

        def teardown(self):
            self.scenario.__exit__(None, None, None)

        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Token {token}"}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response,
                excluded_checks=[positive_data_acceptance],
                headers=kwargs.get("headers"),  # tells the auth checks the token is ours, not generated
                transport_kwargs=kwargs,
            )
            assert MARK not in response.text.lower(), "tenant B's data in an answer to tenant A"

    run_state_machine_as_test(Scenarios, settings=_settings(max_examples=FUZZ_SCENARIOS, stateful_step_count=6))
