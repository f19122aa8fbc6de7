"""Staff pages about customer accounts: overview, quota, restriction, and audited looks into their data.

Seeing an account's lists, contacts or campaigns needs a reason; the reason opens a short access window for
that account only, and every page seen in it is written to the audit log, which the account's owners read.
"""
import datetime

from flask import abort, flash, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import fn

from sendtex import accountdata, audience, audit
from sendtex.models.accounts import Account
from sendtex.models.audit import AuditEntry
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign
from sendtex.models.contacts import Contact, MailingList
from sendtex.staff import NAV, NavItem, bp
from sendtex.staff.forms import AccessForm, QuotaForm, ReasonForm
from sendtex.web import redirect_to, render, row_or_404

ACCESS_MINUTES = 30
PEEK_ROWS = 100
NAV.insert(0, NavItem("staff.accounts", _l("Accounts"),
                      _l("Every account with its usage and status; quotas, restriction, audited access.")))


@bp.get("/accounts")
def accounts():
    """Every account: name, size, sending, status."""
    contacts = (Contact.select(fn.COUNT(Contact.id)).where(Contact.account == Account.id))
    campaigns = (Campaign.select(fn.COUNT(Campaign.id)).where(Campaign.account == Account.id))
    rows = (Account.select(Account, contacts.alias("contact_count"), campaigns.alias("campaign_count"))
            .order_by(Account.name))
    return render("staff/accounts.html", "staff/accounts.html", accounts=list(rows))


@bp.get("/accounts/<int:account_id>")
def account(account_id):
    """One account: counts (no personal data), quota, restriction, its audit log, and the access form."""
    return _account_page(row_or_404(Account, account_id))


def _account_page(account, **forms):
    forms.setdefault("quota_form", QuotaForm(obj=account, formdata=None))
    forms.setdefault("restrict_form", ReasonForm(formdata=None))
    forms.setdefault("access_form", AccessForm(formdata=None))
    status = 422 if any(form.errors for form in forms.values()) else 200
    return render("staff/account.html", "staff/account.html", account=account, counts=accountdata.counts(account.id),
                  entries=list(AuditEntry.of_account(account.id).limit(20)), access=_access(account.id),
                  action_label=audit.label, **forms), status


@bp.post("/accounts/<int:account_id>/quota")
def set_quota(account_id):
    """Change the account's daily sending quota (audited)."""
    account = row_or_404(Account, account_id)
    form = QuotaForm()
    if not form.validate_on_submit():
        return _account_page(account, quota_form=form)
    old = account.daily_quota
    Account.update(daily_quota=form.daily_quota.data).where(Account.id == account.id).execute()
    audit.record("quota-changed", account.id, target=f"{old} → {form.daily_quota.data} messages a day")
    flash(_("The daily quota is now %(n)d.", n=form.daily_quota.data), "success")
    return redirect_to(url_for("staff.account", account_id=account.id))


@bp.post("/accounts/<int:account_id>/restriction")
def restriction(account_id):
    """Restrict the account's processing with a reason, or lift a restriction (both audited)."""
    account = row_or_404(Account, account_id)
    if account.is_restricted:
        account.lift_restriction()
        audit.record("restriction-lifted", account.id)
        flash(_("The restriction is lifted."), "success")
        return redirect_to(url_for("staff.account", account_id=account.id))
    form = ReasonForm()
    if not form.validate_on_submit():
        return _account_page(account, restrict_form=form)
    account.restrict("staff", form.reason.data)
    audit.record("restricted", account.id, reason=form.reason.data)
    flash(_("The account is restricted: nothing is sent or imported until the restriction is lifted."), "success")
    return redirect_to(url_for("staff.account", account_id=account.id))


@bp.post("/accounts/<int:account_id>/access")
def open_access(account_id):
    """Open a 30-minute window to see the account's data, for the reason given (audited)."""
    account = row_or_404(Account, account_id)
    form = AccessForm()
    if not form.validate_on_submit():
        return _account_page(account, access_form=form)
    reason = f"{form.ticket.data.strip()}: {form.reason.data}" if form.ticket.data.strip() else form.reason.data
    until = utcnow() + datetime.timedelta(minutes=ACCESS_MINUTES)
    session.setdefault("staff_access", {})[str(account.id)] = {"reason": reason, "until": until.isoformat()}
    session.modified = True
    audit.record("staff-access", account.id, reason=reason, target=f"for {ACCESS_MINUTES} minutes")
    return redirect_to(url_for("staff.account_data", account_id=account.id, kind="contacts"))


def _access(account_id):
    """The reason of the current user's open access window to the account, or None."""
    grant = session.get("staff_access", {}).get(str(account_id))
    if not grant or datetime.datetime.fromisoformat(grant["until"]) < utcnow():
        return None
    return grant["reason"]


@bp.get("/accounts/<int:account_id>/data/<kind>")
def account_data(account_id, kind):
    """The account's lists, contacts or campaigns, seen inside an access window; each look is audited."""
    account = row_or_404(Account, account_id)
    if kind not in PEEKS:
        abort(404)
    reason = _access(account.id)
    if reason is None:
        flash(_("Give a reason to look into this account's data."), "error")
        return redirect_to(url_for("staff.account", account_id=account.id))
    audit.record("staff-view", account.id, target=kind, reason=reason)
    return render("staff/account_data.html", "staff/account_data.html", account=account, kind=kind,
                  rows=PEEKS[kind](account.id), reason=reason, limit=PEEK_ROWS)


def _peek_contacts(account_id):
    fields = audience.FieldSet(account_id)
    contacts = Contact.for_account(account_id).order_by(Contact.id).limit(PEEK_ROWS)
    return [(contact, audience.read_values(contact, fields)[0]) for contact in contacts]


PEEKS = {
    "contacts": _peek_contacts,
    "lists": lambda account_id: list(MailingList.for_account(account_id).order_by(MailingList.name).limit(PEEK_ROWS)),
    "campaigns": lambda account_id: list(Campaign.for_account(account_id).order_by(Campaign.id.desc()).limit(PEEK_ROWS)),
}
