"""Views of the campaigns area, one module per subject."""
from sendtex.campaigns import domains  # noqa: E402,F401
from sendtex.campaigns import campaigns  # noqa: E402,F401
from sendtex.campaigns import launch  # noqa: E402,F401
from sendtex.campaigns import layouts  # noqa: E402,F401
