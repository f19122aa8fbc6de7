"""Writing the audit log: one call per security event or staff look into an account."""
from flask import has_request_context, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from sendtex.anon import anonymise_ip
from sendtex.models.audit import AuditEntry

# What each action means, as the account's owners read it in their activity log.
ACTION_LABELS = {
    "login": _l("Logged in"),
    "login-failed": _l("Failed login"),
    "password-changed": _l("Password changed"),
    "password-reset": _l("Password reset by e-mail link"),
    "keys-rotated": _l("Encryption keys rotated by the operator"),
}


def label(action):
    """The readable name of an action code (the code itself for one without a label)."""
    return ACTION_LABELS.get(action, action)


def record(action, account_id=None, target="", reason="", actor=None):
    """Append an entry; the actor defaults to the signed-in user, the network to the request's (anonymised)."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user._get_current_object()
    by_staff = actor is not None and actor.is_staff and actor.account_id != account_id
    return AuditEntry.create(
        account=account_id, actor=actor.id if actor else None, actor_label=actor.email if actor else "",
        by_staff=by_staff, action=action, target=target[:200], reason=reason,
        ip_anon=anonymise_ip(request.remote_addr) if has_request_context() else "")
