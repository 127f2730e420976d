"""Project package: settings, tenancy, API plumbing, notifications, cross-app workflows."""
