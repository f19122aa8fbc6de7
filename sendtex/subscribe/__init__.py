"""Public signup: signup forms, the hosted page and embeddable snippet, double opt-in, proof of consent."""
