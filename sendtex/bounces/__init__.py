"""Bounces and complaints: parse.py reads what comes back (DSN, ARF, plain-text bounces), rules.py matches
it to the delivery, records it once and applies the account's rules, mailbox.py polls the bounce mailbox."""
