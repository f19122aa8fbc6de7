"""Every module that declares API operations or pages, in the order the OpenAPI document lists them."""
from sendtex.api import auth  # noqa: F401
from sendtex.api import lists  # noqa: F401
from sendtex.api import fields  # noqa: F401
from sendtex.api import contacts  # noqa: F401
from sendtex.api import bulk  # noqa: F401
from sendtex.api import imports  # noqa: F401
from sendtex.api import segments  # noqa: F401
from sendtex.api import campaigns  # noqa: F401
from sendtex.api import stats  # noqa: F401
from sendtex.api import openapi  # noqa: F401
from sendtex.api import keys  # noqa: F401
