"""Huey tasks, one module per area. Importing this package registers all of them."""
from sendtex.tasks import accounts, imports, jobs, maintenance  # noqa: F401
from sendtex.tasks import contacts  # noqa: F401,E402  (bulk actions on contacts)
from sendtex.tasks import fields  # noqa: F401,E402  (field encryption, deletion, key rotation)
