"""The subscriber's own public pages: preference centre, asking for its link, view in browser."""
