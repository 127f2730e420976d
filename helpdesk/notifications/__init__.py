"""Notifications and outbound webhooks: everything that leaves the system.

An OutboxEvent (helpdesk/outbox.py) is the cause, written in the transaction of the change. The
dispatcher fans each event out into Delivery rows, one per destination (a webhook subscription, a chat
channel, an e-mail address), then delivers them with retries, recording every attempt. See
docs/ARCHITECTURE.md ("Notifications") and docs/WEBHOOKS.md.
"""
