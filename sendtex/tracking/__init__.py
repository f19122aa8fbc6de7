"""Per-message endpoints: the open image, the click redirect and the unsubscribe page (RFC 8058 one-click)."""
