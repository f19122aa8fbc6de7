"""Views of the campaigns area, one module per subject."""
