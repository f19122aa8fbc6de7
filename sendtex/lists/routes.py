"""Views of the audience area, one module per subject."""
from sendtex.lists import imports  # noqa: E402,F401
