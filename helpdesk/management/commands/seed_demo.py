"""A realistic demo tenant: people of every role and tier, teams with skills, accounts from free to
VIP enterprise, customers, and a few hundred tickets with conversations spread over recent weeks, and a
demo e-mail channel for notifications."""

import random
from datetime import date, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from helpdesk import workflows
from helpdesk.models import OutboxEvent, Role, Tenant
from helpdesk.notifications import services as notification_services
from helpdesk.notifications.models import ChannelKind, NotificationChannel
from helpdesk.services import api_token_create, membership_create, team_create
from helpdesk.tenancy import tenant_context
from tickets import services as tickets
from tickets.models import AuthorType, Outcome, Status

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo-pass-123"

PEOPLE = [
    # username, first, last, role, tier, skills
    ("ada", "Ada", "Admin", Role.ADMIN, 3, []),
    ("maya", "Maya", "Manager", Role.MANAGER, 3, ["escalations", "vip"]),
    ("tom", "Tom", "Tierone", Role.AGENT, 1, ["general"]),
    ("tina", "Tina", "Tierone", Role.AGENT, 1, ["general", "chat"]),
    ("sam", "Sam", "Billing", Role.AGENT, 2, ["billing", "refunds"]),
    ("eli", "Eli", "Engineer", Role.AGENT, 3, ["engineering", "api", "data_loss"]),
    ("lea", "Lea", "Legal", Role.AGENT, 2, ["legal", "security"]),
    ("bo", "Bo", "Bot", Role.AGENT, 0, ["self_service"]),
]

TEAMS = [
    ("Frontline", ["general", "chat"], 1, ["tom", "tina"]),
    ("Billing", ["billing", "refunds"], 2, ["sam"]),
    ("Engineering", ["engineering", "api", "data_loss"], 3, ["eli"]),
    ("Legal & Security", ["legal", "security"], 2, ["lea"]),
    ("Management", ["escalations", "vip"], 3, ["maya"]),
]

ACCOUNTS = [
    # name, plan, vip, acv, ltv
    ("Initech", "enterprise", True, 480000, 2100000),
    ("Umbrella Health", "enterprise", True, 350000, 900000),
    ("Stark Logistics", "enterprise", False, 150000, 400000),
    ("Wayne Retail", "business", False, 42000, 160000),
    ("Hooli Labs", "business", False, 36000, 90000),
    ("Pied Piper", "standard", False, 6000, 14000),
    ("Vandelay Imports", "standard", False, 4800, 9000),
    ("Bluth Company", "free", False, 0, 0),
]

SCENARIOS = [
    # subject, description, category, priority, customer follow-ups
    (
        "Charged twice for November invoice",
        "I was billed twice this month. Please refund the duplicate charge.",
        "billing",
        "high",
        ["Any update on the refund? This is the second time I'm asking."],
    ),
    (
        "Cannot log in after password reset",
        "The reset link says expired even though I just requested it.",
        "account",
        "normal",
        ["Still can't get in."],
    ),
    (
        "API returns 500 on /orders export",
        "Our nightly export job fails with HTTP 500 since yesterday.",
        "bug",
        "urgent",
        ["This is blocking our finance close.", "We are losing money every hour this is down."],
    ),
    (
        "Data missing after sync",
        "Half of our customer records disappeared after the last sync. This is a disaster.",
        "data_loss",
        "urgent",
        ["I need someone senior on this now. I want to speak to a manager."],
    ),
    (
        "Question about GDPR data request",
        "A customer of ours filed a subject access request; how do we export?",
        "legal",
        "normal",
        [],
    ),
    (
        "Suspicious login from unknown country",
        "We saw a login from an IP we don't recognise on an admin account.",
        "security",
        "high",
        ["Please call me, this is urgent."],
    ),
    ("How do I add a teammate?", "Where do I invite new users to our workspace?", "how_to", "low", []),
    (
        "Dashboard is very slow",
        "Reports take over a minute to load since the update.",
        "performance",
        "normal",
        ["Any news?", "It's getting worse.", "Honestly this is unacceptable."],
    ),
    (
        "Cancel my subscription",
        "This product has been nothing but trouble. Cancel and refund me.",
        "billing",
        "normal",
        ["If I don't hear back I'll talk to my lawyer about a chargeback."],
    ),
    (
        "Feature request: dark mode",
        "Would love a dark theme for late shifts. Thanks for a great product!",
        "feedback",
        "low",
        [],
    ),
]

AGENT_REPLIES = [
    "Thanks for reaching out — I'm looking into this now.",
    "Could you send a screenshot of the error and the time it happened?",
    "I've reproduced the issue and passed it to the right team.",
    "Sorry for the trouble. I've applied a fix on our side; can you try again?",
]


class Command(BaseCommand):
    help = "Seed the demo tenant (users, teams, accounts, customers, tickets)."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="do nothing when the demo tenant exists")
        parser.add_argument("--tickets", type=int, default=300)

    def handle(self, *args, if_empty, tickets, **options):
        if Tenant.objects.filter(slug=DEMO_SLUG).exists():
            if if_empty:
                self.stdout.write("demo tenant present; not seeding again")
                return
            self.stderr.write("demo tenant exists; use --if-empty, or drop it first")
            return
        with transaction.atomic():
            tenant = workflows.tenant_bootstrap(slug=DEMO_SLUG, name="Demo Support Co.", timezone="Europe/Berlin")
            people = self._people(tenant)
            self._teams(tenant, people)
            count = self._tickets(tenant, people, tickets)
            # The back-dated tickets' clocks catch up now: their breaches, and the escalations those
            # cause, are history like the rest, not news for the first sweep of `make run` to mail.
            workflows.sweep()
            self._notifications(tenant)
        _, key = api_token_create(tenant=tenant, role=Role.ADMIN, label="demo admin token")
        self.stdout.write(f"seeded tenant {DEMO_SLUG}: {len(people)} people, {count} tickets")
        self.stdout.write(f"demo admin API token: {key}")

    def _people(self, tenant):
        return {
            username: membership_create(
                tenant=tenant,
                username=username,
                email=f"{username}@demo.test",
                password=DEMO_PASSWORD,
                first_name=first,
                last_name=last,
                role=role,
                tier=tier,
                skills=skills,
            )
            for username, first, last, role, tier, skills in PEOPLE
        }

    def _notifications(self, tenant):
        """A demo e-mail channel (with EMAIL_BACKEND's default, the console shows the mail). The seeded
        history is not news: its outbox events are marked dispatched, so only what happens from now on
        is sent."""
        with tenant_context(tenant):
            OutboxEvent.objects.filter(dispatched_at=None).update(dispatched_at=timezone.now())
            channel = NotificationChannel(tenant=tenant, name="Demo e-mail", kind=ChannelKind.EMAIL, digest_minutes=15)
            notification_services.channel_save(channel=channel, url="")

    def _teams(self, tenant, people):
        for name, skills, tier, members in TEAMS:
            team_create(tenant=tenant, name=name, skills=skills, tier=tier, members=[people[m] for m in members])

    def _tickets(self, tenant, people, count: int) -> int:
        rng = random.Random(42)
        now = timezone.now()
        agents = [people[u] for u in ("tom", "tina", "sam", "eli", "lea")]
        with tenant_context(tenant):
            accounts = [
                tickets.account_create(
                    tenant=tenant,
                    name=name,
                    plan=plan,
                    vip=vip,
                    annual_contract_value=Decimal(acv),
                    lifetime_value=Decimal(ltv),
                    customer_since=date(2019 + i % 6, 1 + i, 1),
                )
                for i, (name, plan, vip, acv, ltv) in enumerate(ACCOUNTS)
            ]
            customers = [
                tickets.customer_create(
                    tenant=tenant,
                    email=f"customer{i}@{accounts[i % len(accounts)].name.split()[0].lower()}.test",
                    name=f"Customer {i}",
                    account=accounts[i % len(accounts)],
                )
                for i in range(40)
            ]
            for n in range(count):
                self._one_ticket(tenant, rng, now, n, customers, agents)
        return count

    def _one_ticket(self, tenant, rng, now, n, customers, agents):
        subject, description, category, priority, follow_ups = rng.choice(SCENARIOS)
        customer = rng.choice(customers)
        opened = now - timedelta(days=rng.uniform(0, 28), minutes=rng.randint(0, 600))
        ticket = workflows.ticket_open(
            tenant=tenant,
            actor=None,
            subject=subject,
            description=description,
            requester_email=customer.email,
            priority=priority,
            channel=rng.choice(["email", "chat", "web", "phone"]),
            category=category,
            tags=[category],
            created_at=opened,
        )
        at = opened
        agent = rng.choice(agents)
        tickets.ticket_assign(ticket=ticket, actor=None, assignee=agent, at=at)
        if rng.random() < 0.8:
            at += timedelta(minutes=rng.randint(5, 240))
            workflows.message_receive(
                ticket=ticket, actor=None, body=rng.choice(AGENT_REPLIES), author_type=AuthorType.AGENT, created_at=at
            )
        for body in follow_ups[: rng.randint(0, len(follow_ups))]:
            at += timedelta(minutes=rng.randint(10, 600))
            workflows.message_receive(
                ticket=ticket, actor=None, body=body, author_type=AuthorType.CUSTOMER, created_at=at
            )
        if rng.random() < 0.3:
            workflows.attempt_record(
                ticket=ticket,
                actor=None,
                outcome=rng.choice(list(Outcome)),
                tier=ticket.tier,
                note="Suggested the standard fix.",
                created_at=at,
            )
        if n % 3 == 0 and at < now - timedelta(days=2):
            workflows.ticket_change_status(ticket=ticket, actor=None, status=Status.SOLVED, at=at + timedelta(hours=2))
