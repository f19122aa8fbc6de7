"""Views of the audience area, one module per subject."""
