"""Views of the audience area, one module per subject."""
from sendtex.lists import imports  # noqa: E402,F401
from sendtex.lists import lists  # noqa: E402,F401
from sendtex.lists import contacts  # noqa: E402,F401
from sendtex.lists import bulk  # noqa: E402,F401
from sendtex.lists import fields  # noqa: E402,F401
from sendtex.lists import segments  # noqa: E402,F401
from sendtex.lists import exports  # noqa: E402,F401
