"""Huey tasks, one module per area. Importing this package registers all of them."""
from sendtex.tasks import accounts, imports, jobs, maintenance  # noqa: F401
