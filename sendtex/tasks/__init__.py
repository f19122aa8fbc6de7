"""Huey tasks, one module per area. Importing this package registers all of them."""
from sendtex.tasks import (  # noqa: F401
    accounts, bounces, contacts, fields, imports, jobs, maintenance, preferences, privacy, sending, sitestats, stats,
    subscribe, website)
