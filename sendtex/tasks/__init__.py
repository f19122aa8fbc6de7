"""Huey tasks, one module per area. Importing this package registers all of them."""
from sendtex.tasks import accounts, contacts, fields, imports, jobs, maintenance, privacy, sending  # noqa: F401
