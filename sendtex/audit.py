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
    "staff-access": _l("Operator staff opened access to the account's data"),
    "staff-view": _l("Operator staff looked at"),
    "quota-changed": _l("Daily sending quota changed"),
    "restricted": _l("Processing restricted"),
    "restriction-lifted": _l("Restriction lifted"),
    "account-export": _l("Data export of the whole account asked for"),
    "newsletter-withdrawn": _l("Consent for the operator's newsletter withdrawn"),
    "account-export-download": _l("Data export downloaded"),
    "staff-lookup": _l("Operator staff searched for an address (data-subject request)"),
    "staff-contact-export": _l("Operator staff exported a contact's data (data-subject request)"),
    "staff-contact-erase": _l("Operator staff erased a contact (data-subject request)"),
    "staff-account-export": _l("Operator staff exported the account's data (data-subject request)"),
    "api-key-created": _l("API key created"),
    "api-key-revoked": _l("API key revoked"),
    "api-campaign-sent": _l("Campaign started through the API"),
    "api-campaign-scheduled": _l("Campaign scheduled through the API"),
    "api-campaign-cancelled": _l("Campaign cancelled through the API"),
    "job-application-viewed": _l("Job application opened"),
    "job-application-status": _l("Job application status changed"),
    "job-application-closed": _l("Job application procedure closed"),
    "job-application-reopened": _l("Job application procedure reopened"),
    "job-application-deleted": _l("Job application deleted"),
    "job-procedures-closed": _l("Procedures of a vacancy closed"),
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
