"""Staff pages: the log of data-subject requests received by e-mail or post, and fulfilling them from there.

Fulfilment reaches into customer accounts (finding an address, exporting or erasing a contact, exporting or
deleting an account), so each step is audited in the account concerned and noted on the request itself.
"""
import json

from flask import Response, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from sendtex import audience, audit
from sendtex.models.accounts import Account
from sendtex.models.base import utcnow
from sendtex.models.privacy import AccountExport
from sendtex.models.requests import DataRequest, one_month_after
from sendtex.preferences.subscriber import Subscriber
from sendtex.privacy.selfservice import export_download, start_deletion
from sendtex.staff import NAV, NavItem, bp
from sendtex.staff.forms import CHANNEL_LABELS, KIND_LABELS, AccountChoiceForm, CloseRequestForm, DataRequestForm
from sendtex.tasks.privacy import build_export
from sendtex.web import redirect_to, render, render_form, row_or_404

NAV.append(NavItem("staff.request_log", _l("Requests"),
                   _l("Data-subject requests received by e-mail or post, with their due dates.")))


@bp.route("/requests", methods=["GET", "POST"])
def request_log():
    """The request log, open requests by due date first; logging a new request."""
    form = DataRequestForm()
    if request.method == "GET":
        form.received_on.data = utcnow().date()
    if form.validate_on_submit():
        logged = DataRequest.create(**{name: form[name].data for name in (
            "kind", "requester_name", "requester_email", "channel", "received_on", "identity_proof", "details")},
            due_on=one_month_after(form.received_on.data))
        flash(_("Request logged; it is due on %(date)s.", date=logged.due_on.isoformat()), "success")
        return redirect_to(url_for("staff.data_request", request_id=logged.id))
    return render_form("staff/requests.html", "staff/requests.html", form, requests=list(DataRequest.open_first()),
                       today=utcnow().date(), kinds=KIND_LABELS, channels=CHANNEL_LABELS)


def _detail(logged, matches=None, status=200, **forms):
    forms.setdefault("close_form", CloseRequestForm(formdata=None))
    forms.setdefault("account_form", AccountChoiceForm(formdata=None))
    exports = AccountExport.select().where(AccountExport.user == current_user.id).order_by(AccountExport.id.desc())
    return render("staff/request.html", "staff/request.html", item=logged, matches=matches, today=utcnow().date(),
                  kinds=KIND_LABELS, channels=CHANNEL_LABELS, exports=list(exports.limit(10)), **forms), status


@bp.get("/requests/<int:request_id>")
def data_request(request_id):
    """One request: its details, what was done, and the fulfilment actions."""
    return _detail(row_or_404(DataRequest, request_id))


@bp.post("/requests/<int:request_id>/find")
def find_address(request_id):
    """Find the requester's address in every account (audited in each account where it is found)."""
    logged = row_or_404(DataRequest, request_id)
    matches = _matches(logged, "staff-lookup")
    logged.note_action(f"looked up the address: found in {len({c.account_id for c in matches})} account(s)")
    return _detail(logged, matches=matches)


def _matches(logged, action):
    contacts = audience.contacts_everywhere(logged.requester_email) if logged.requester_email else []
    for account_id in sorted({contact.account_id for contact in contacts}):
        audit.record(action, account_id, target="contact of the requester", reason=_reason(logged))
    return contacts


def _reason(logged):
    return f"data-subject request #{logged.id} ({logged.kind})"


@bp.post("/requests/<int:request_id>/contacts/export")
def export_contacts(request_id):
    """The requester's data from every account holding their address, as one JSON download."""
    logged = row_or_404(DataRequest, request_id)
    contacts = _matches(logged, "staff-contact-export")
    data = [{"account": contact.account.name, **Subscriber(contact.uid).export()} for contact in contacts]
    logged.note_action(f"exported the requester's data from {len(contacts)} contact record(s)")
    response = Response(json.dumps(data, indent=2, ensure_ascii=False), mimetype="application/json")
    response.headers.set("Content-Disposition", "attachment", filename=f"request-{logged.id}-data.json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/requests/<int:request_id>/contacts/erase")
def erase_contacts(request_id):
    """Erase the requester's contact records in every account (audited in each)."""
    logged = row_or_404(DataRequest, request_id)
    contacts = _matches(logged, "staff-contact-erase")
    for contact in contacts:
        Subscriber(contact.uid).erase()
    logged.note_action(f"erased {len(contacts)} contact record(s) of the requester")
    flash(_("%(n)d contact records of the requester were erased.", n=len(contacts)), "success")
    return redirect_to(url_for("staff.data_request", request_id=logged.id))


@bp.post("/requests/<int:request_id>/account/<action>")
def account_action(request_id, action):
    """Export (for this staff user to download) or delete a whole account for the request."""
    logged = row_or_404(DataRequest, request_id)
    form = AccountChoiceForm()
    if action not in ("export", "delete"):
        abort(404)
    account = Account.get_or_none(Account.id == form.account_id.data) if form.validate_on_submit() else None
    if account is None:
        form.account_id.errors.append(_("There is no account with this number."))
        return _detail(logged, status=422, account_form=form)
    if action == "export":
        audit.record("staff-account-export", account.id, reason=_reason(logged))
        build_export(AccountExport.create(account=account.id, user=current_user.id).id)
        logged.note_action(f"exported account {account.id}")
    else:
        start_deletion(account)
        logged.note_action(f"deleted account {account.id} ({account.name})")
    return redirect_to(url_for("staff.data_request", request_id=logged.id))


@bp.get("/requests/exports/<int:export_id>")
def download_account_export(export_id):
    """An account export this staff user made for a request (nobody else can fetch it)."""
    export = AccountExport.get_or_none((AccountExport.id == export_id) & (AccountExport.user == current_user.id)) \
        if 0 < export_id < 2**63 else None
    if export is None:
        abort(404)
    return export_download(export)


@bp.post("/requests/<int:request_id>/close")
def close_request(request_id):
    """Close the request with what was done."""
    logged = row_or_404(DataRequest, request_id)
    form = CloseRequestForm()
    if not form.validate_on_submit():
        return _detail(logged, status=422, close_form=form)
    DataRequest.update(closed_at=utcnow(), outcome=form.outcome.data).where(DataRequest.id == logged.id).execute()
    flash(_("The request is closed."), "success")
    return redirect_to(url_for("staff.request_log"))
