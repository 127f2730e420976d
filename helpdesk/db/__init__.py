"""PostgreSQL backend that runs application queries as the non-owner app role (see base.py)."""
