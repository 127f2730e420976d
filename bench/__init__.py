"""Benchmarks (run as scripts; see bench/API.md and bench/IMPORT.md). A package only so that
`bench.naive_settings` can be given to gunicorn as DJANGO_SETTINGS_MODULE."""
