"""The agent workspace: the browser pages agents work tickets in (queues, the ticket page, escalations).

It spans the apps the way helpdesk/workflows.py does — a ticket page shows the ticket, its clocks, its
escalations and calls — so it sits with the workflows at the top of the project package, above every app.
Pages read through the apps' selectors and write through the workflows, like the API: no rule, permission
or query of their own. The routes and the accessible names of the controls are a contract (UI.md).
"""
