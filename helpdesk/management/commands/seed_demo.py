"""A realistic demo tenant: people of every role and tier, teams with skills, accounts from free to
VIP enterprise, customers, and a few hundred tickets with conversations spread over recent weeks, and a
demo e-mail channel for notifications."""

import random
from datetime import date, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from callnotes.errors import CallError
from callnotes.models import Call, CallStatus
from helpdesk import workflows
from helpdesk.models import OutboxEvent, Role, Tenant
from helpdesk.notifications.models import ChannelKind, NotificationChannel
from helpdesk.tenancy import tenant_context
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

# Most of a real inbox is routine; a well-run desk escalates 15-20 % of it (seed 004). The weights give
# the demo that shape, so the escalation dry run and the metrics show a healthy desk with a few hot spots
# rather than a fire in every ticket.
SCENARIOS = [
    # weight, subject, description, category, priority, customer follow-ups
    (9, "Cannot log in after password reset", "The reset link says expired even though I just requested it.",
     "account", "normal", ["Still can't get in."]),
    (9, "How do I add a teammate?", "Where do I invite new users to our workspace?", "how_to", "low", []),
    (7, "Export to CSV is missing a column", "The CSV export no longer includes the region column.", "bug",
     "normal", ["Any news on this?"]),
    (7, "Change the billing e-mail address", "Invoices should go to finance@ from next month on.", "billing",
     "low", []),
    (6, "Need a copy of last year's invoices", "Our auditors asked for all 2025 invoices as PDF.", "billing",
     "low", []),
    (6, "Set up SSO with our identity provider", "Which SAML attributes do you expect for the user e-mail?",
     "how_to", "normal", ["Thanks, one more question about group mapping."]),
    (5, "Mobile notifications do not arrive", "Push notifications stopped on Android after the last update.",
     "bug", "normal", []),
    (5, "Dashboard is very slow", "Reports take over a minute to load since the update.", "performance",
     "normal", ["Any news?"]),
    (4, "Feature request: dark mode", "Would love a dark theme for late shifts. Thanks for a great product!",
     "feedback", "low", []),
    (2, "Question about GDPR data request", "A customer of ours filed a subject access request; how do we export?",
     "legal", "normal", []),
    (1, "Charged twice for November invoice", "I was billed twice this month. Please refund the duplicate charge.",
     "billing", "high", ["Any update on the refund? This is the second time I'm asking."]),
    (2, "API returns 500 on /orders export", "Our nightly export job fails with HTTP 500 since yesterday.", "bug",
     "urgent", ["This is blocking our finance close.", "We are losing money every hour this is down."]),
    (1, "Data missing after sync",
     "Half of our customer records disappeared after the last sync. This is a disaster.", "data_loss", "urgent",
     ["I need someone senior on this now. I want to speak to a manager."]),
    (1, "Suspicious login from unknown country", "We saw a login from an IP we don't recognise on an admin account.",
     "security", "high", ["Please call me, this is urgent."]),
    (1, "Cancel my subscription", "This product has been nothing but trouble. Cancel and refund me.", "billing",
     "normal", ["If I don't hear back I'll talk to my lawyer about a chargeback."]),
]  # fmt: skip
SCENARIO_WEIGHTS = [scenario[0] for scenario in SCENARIOS]
# Customers per account, in ACCOUNTS' order: the VIP enterprises are few people among many customers.
CUSTOMERS_PER_ACCOUNT = [2, 2, 20, 40, 40, 50, 50, 30]
# How soon an agent answers, in minutes, by priority: within the first warning (75 %) of its clock.
REPLY_MINUTES = {"urgent": (3, 15), "high": (5, 45), "normal": (5, 60), "low": (10, 90)}
# A ticket older than this is solved (most within hours); younger ones are still being worked.
STILL_OPEN_WITHIN = timedelta(hours=30)

# subject, description, priority, from a VIP account, assignee (None: nobody), opened minutes ago
SHOWCASE = [
    ("Production outage on the reporting API", "Every report request times out since this morning; our board "
     "meeting is at 3 pm.", "urgent", True, "sam", 50),
    ("Webhook deliveries delayed", "Order webhooks arrive 20 minutes late since yesterday evening.", "normal",
     False, None, 15),
]  # fmt: skip

DEMO_PRE_CALL = {"phone_or_link": "https://meet.example.com/demo-support", "preferred_times": "weekday mornings"}
DEMO_LIVE_NOTES = {
    "header": "Call with the customer about missing records",
    "issue_confirmation": "Records from one region are missing since the last sync.",
    "diagnosis_steps": ["Checked the sync logs", "Found rows skipped by the mapping"],
    "discussed_resolutions": ["Restore from the nightly backup", "Fix the mapping"],
    "customer_concerns": ["Finance close this week"],
}

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
            calls = self._calls(tenant)
            self._notifications(tenant)
        _, key = workflows.api_token_create(tenant=tenant, actor=None, role=Role.ADMIN, label="demo admin token")
        self.stdout.write(f"seeded tenant {DEMO_SLUG}: {len(people)} people, {count} tickets, {calls} calls")
        self.stdout.write(f"demo admin API token: {key}")

    def _people(self, tenant):
        return {
            username: workflows.member_add(
                tenant=tenant,
                actor=None,
                username=username,
                email=f"{username}@demo.test",
                password=DEMO_PASSWORD,
                name=f"{first} {last}",
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
            workflows.channel_save(channel=channel, actor=None, url="")

    def _calls(self, tenant) -> int:
        """The calls the matrix asked for (to_call rules): the oldest held and completed with its notes, a root
        cause and action items; the next ones scheduled in the coming days. Through the workflows, as an
        agent would, so invites, the brief and the knowledge index follow."""
        now = timezone.now()
        scheduled = 0
        with tenant_context(tenant):
            requests = Call.objects.filter(status=CallStatus.REQUESTED).exclude(ticket__status=Status.CLOSED)
            for n, call in enumerate(requests.select_related("ticket__requester").order_by("created_at", "pk")[:4]):
                ticket = call.ticket
                held = n == 0 and call.created_at < now - timedelta(days=2)
                start = call.created_at + timedelta(hours=2) if held else now + timedelta(days=n, hours=3)
                try:
                    done = workflows.call_schedule(
                        ticket=ticket,
                        actor=None,
                        scheduled_start=start,
                        duration_minutes=30,
                        attendees=[ticket.requester.email],
                        pre_call=DEMO_PRE_CALL,
                        at=min(start - timedelta(hours=1), now),
                    )
                    if held:
                        self._complete(done, start)
                except CallError as exc:  # nobody free then: the request stays, as it would for an agent
                    self.stderr.write(f"call on ticket {ticket.pk} not scheduled: {exc}")
                    continue
                scheduled += 1
        return scheduled

    def _complete(self, call, start):
        workflows.call_note_update(call=call, actor=None, changes={"live": DEMO_LIVE_NOTES})
        workflows.call_complete(
            call=call,
            actor=None,
            root_cause="A mapping change dropped records whose region field was empty.",
            resolution="Restored the records from the nightly backup and fixed the mapping.",
            customer_summary="We found why records went missing, restored them and fixed the cause.",
            action_items=[
                {
                    "description": "Add a regression test for empty regions",
                    "owner": call.agent,
                    "due": start.date() + timedelta(days=2),
                },
                {
                    "description": "Confirm the restored totals with the customer",
                    "owner": call.agent,
                    "due": start.date() + timedelta(days=1),
                },
            ],
            tags=["sync", "data_loss"],
            at=start + timedelta(minutes=35),
        )

    def _teams(self, tenant, people):
        for name, skills, tier, members in TEAMS:
            members_of = [people[m] for m in members]
            workflows.team_create(tenant=tenant, actor=None, name=name, skills=skills, tier=tier, members=members_of)

    def _tickets(self, tenant, people, count: int) -> int:
        rng = random.Random(42)
        now = timezone.now()
        agents = [people[u] for u in ("tom", "tina", "sam", "eli", "lea")]
        with tenant_context(tenant):
            accounts = [
                workflows.account_create(
                    actor=None,
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
                workflows.customer_create(
                    actor=None,
                    tenant=tenant,
                    email=f"customer{len(accounts) * i + a}@{account.name.split()[0].lower()}.test",
                    name=f"Customer {len(accounts) * i + a}",
                    account=account,
                )
                for a, (account, size) in enumerate(zip(accounts, CUSTOMERS_PER_ACCOUNT, strict=True))
                for i in range(size)
            ]
            showcase = self._showcase(tenant, now, customers, people) if count >= len(SHOWCASE) else 0
            for _ in range(count - showcase):
                self._one_ticket(tenant, rng, now, customers, agents)
        return count

    def _showcase(self, tenant, now, customers, people) -> int:
        """Tickets the demo must have whatever the random draw: an open VIP ticket (the sign-off a VIP needs,
        the account card) and a new one nobody has taken (Assign to me; the unassigned filters)."""
        vip = next(c for c in customers if c.account is not None and c.account.vip)
        for subject, description, priority, vip_requester, assignee, minutes_ago in SHOWCASE:
            opened = now - timedelta(minutes=minutes_ago)
            ticket = workflows.ticket_open(
                tenant=tenant,
                actor=None,
                subject=subject,
                description=description,
                requester_email=vip.email if vip_requester else customers[-1].email,
                priority=priority,
                channel="email",
                category="bug",
                tags=["bug"],
                created_at=opened,
            )
            if assignee:
                workflows.ticket_assign(ticket=ticket, actor=None, assignee=people[assignee], at=opened)
                if ticket.status != Status.OPEN:
                    workflows.ticket_change_status(ticket=ticket, actor=None, status=Status.OPEN, at=opened)
        return len(SHOWCASE)

    def _one_ticket(self, tenant, rng, now, customers, agents):
        _, subject, description, category, priority, follow_ups = rng.choices(SCENARIOS, SCENARIO_WEIGHTS)[0]
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
        workflows.ticket_assign(ticket=ticket, actor=None, assignee=agent, at=at)
        # Nearly all get a first answer inside the first-response target of their priority (30 min for
        # urgent, 2 h for high, 4 business hours otherwise), and follow-ups an answer; a few wait too long.
        quick = REPLY_MINUTES[priority]
        for body in [None, *follow_ups[: rng.randint(0, len(follow_ups))]]:
            if body is not None:
                at += timedelta(minutes=rng.randint(10, 90))
                if at >= now:  # a ticket opened minutes ago has no history yet
                    break
                workflows.message_receive(
                    ticket=ticket, actor=None, body=body, author_type=AuthorType.CUSTOMER, created_at=at
                )
            if rng.random() < 0.95 and (at := at + timedelta(minutes=rng.randint(*quick))) < now:
                reply = rng.choice(AGENT_REPLIES)
                workflows.message_receive(
                    ticket=ticket, actor=None, body=reply, author_type=AuthorType.AGENT, created_at=at
                )
        at = min(at, now)
        if rng.random() < 0.2:
            workflows.attempt_record(
                ticket=ticket,
                actor=None,
                outcome=rng.choice(list(Outcome)),
                tier=ticket.tier,
                note="Suggested the standard fix.",
                created_at=at,
            )
        if opened < now - STILL_OPEN_WITHIN and rng.random() < 0.98:
            solved = at + timedelta(minutes=rng.randint(20, 120))
            workflows.ticket_change_status(ticket=ticket, actor=None, status=Status.SOLVED, at=solved)
