"""Statements written by hand for speed name a model's columns themselves, and some build instances from
what they read. A new column must reach them too: otherwise a new customer's INSERT fails (NOT NULL), an
imported clock loses a value, or a request's tenant misses a field. These tests hold each to its model."""

import re

from helpdesk.auth import TOKEN_LOOKUP
from helpdesk.models import Tenant
from slas.models import SlaTimer
from slas.services import INSERT_COLUMNS
from tickets.models import Customer
from tickets.services import CUSTOMER_INSERT


def _columns(model, *, without=()) -> set[str]:
    return {field.column for field in model._meta.concrete_fields} - set(without)


def test_the_customer_insert_names_every_column():
    inserted = re.search(r"tickets_customer \(([^)]*)\)", CUSTOMER_INSERT).group(1)
    assert {name.strip() for name in inserted.split(",")} == _columns(Customer, without={"id"})


def test_the_token_lookup_reads_every_column_of_the_tenant():
    assert set(re.findall(r"\bt\.(\w+)", TOKEN_LOOKUP)) | {"id"} == _columns(Tenant)


def test_the_bulk_clock_insert_names_every_column_but_its_timestamps():
    assert set(INSERT_COLUMNS) == _columns(SlaTimer, without={"id", "created_at", "updated_at"})
