"""The account owner's own privacy rights: delete the account, download all of its data."""
import json

from flask import Response, abort, current_app, flash, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from sendtex import accountdata, audit
from sendtex.crypto import read_encrypted_file
from sendtex.models.accounts import Account, User
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign
from sendtex.models.privacy import AccountExport, DeletionRecord
from sendtex.privacy.forms import DeleteAccountForm, ExportRequestForm, RestrictForm
from sendtex.privacy.routes import bp
from sendtex.tasks.privacy import build_export, delete_account
from sendtex.tokens import TokenError, sign, unsign
from sendtex.uploads import exports_dir
from sendtex.web import error_response, owned_or_404, owner_required, redirect_to, render, render_form

DOWNLOAD_PURPOSE = "account-export"
STOPPABLE = ("scheduled", "sending", "paused")


@bp.route("/account/delete", methods=["GET", "POST"])
@owner_required
def delete_account_page():
    """Show what deleting the account destroys; delete it after the password and the typed name match."""
    account = current_user.account
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.password.data):
            form.password.errors.append(_("This is not your password."))
        elif form.account_name.data.strip() != account.name:
            form.account_name.errors.append(_("This is not the account's name."))
        else:
            start_deletion(account)
            logout_user()
            return redirect_to(url_for("privacy.account_deleted"))
    return render_form("privacy/delete.html", "privacy/_delete_form.html", form, account=account,
                       counts=_what_goes(account.id))


def start_deletion(account):
    """Stop the account's sending, end every session, and hand the deletion to the worker."""
    Account.update(deletion_requested_at=utcnow()).where(Account.id == account.id).execute()
    Campaign.update(status="cancelled", status_reason="The account is being deleted.").where(
        (Campaign.account == account.id) & Campaign.status.in_(STOPPABLE)).execute()
    User.update(session_version=User.session_version + 1).where(User.account == account.id).execute()
    record = DeletionRecord.create(account_id=account.id, counts_json=_counts_json(account.id))
    delete_account(record.id)
    return record


def _counts_json(account_id):
    return json.dumps({name: n for name, n in accountdata.counts(account_id).items() if n})


def _what_goes(account_id):
    """(label, count) of what deletion destroys: the main kinds by name, every other table as one sum."""
    counts = accountdata.counts(account_id)
    named = [("mailing_list", _("lists")), ("contact", _("contacts")), ("field", _("fields")),
             ("segment", _("segments")), ("campaign", _("campaigns")), ("delivery", _("messages sent or queued")),
             ("event", _("opens, clicks and other events")), ("import", _("imports")), ("user", _("users")),
             ("sending_domain", _("sending domains and their DKIM keys"))]
    rest = sum(n for table, n in counts.items() if table not in dict(named) and table != "account")
    return [(label, counts.get(table, 0)) for table, label in named] + [(_("other records (statistics, "
                                                                          "consent, logs, exports…)"), rest)]


@bp.route("/account/deleted")
def account_deleted():
    """The page after a deletion: what happened, what is kept."""
    return render("privacy/deleted.html", "privacy/deleted.html")


@bp.route("/account/exports", methods=["GET", "POST"])
@owner_required
def exports():
    """The account's data exports: ask for a new one, see their state, download finished ones."""
    form = ExportRequestForm()
    if form.validate_on_submit():
        export = AccountExport.create(account=current_user.account_id, user=current_user.id)
        audit.record("account-export", current_user.account_id)
        build_export(export.id)
        flash(_("Your export is being prepared. It appears below when it is ready."), "success")
        if not request.htmx:
            return redirect_to(url_for("privacy.exports"))
    rows = AccountExport.for_account(current_user.account_id).order_by(AccountExport.id.desc())
    return render("privacy/exports.html", "privacy/_exports.html", form=form, exports=list(rows),
                  download_url=_download_url)


def _download_url(export):
    return url_for("privacy.download_export", export_id=export.id,
                   token=sign(DOWNLOAD_PURPOSE, [export.id, export.user_id]))


@bp.route("/account/exports/<int:export_id>/<token>")
@owner_required
def download_export(export_id, token):
    """Stream a finished export, decrypted on the fly, to the user who asked for it while it has not expired."""
    export = owned_or_404(AccountExport, export_id)
    try:
        signed_id, user_id = unsign(DOWNLOAD_PURPOSE, token, max_age=current_app.config["RETENTION_EXPORTS_DAYS"] * 86400)
    except TokenError:
        abort(404)
    if (signed_id, user_id) != (export.id, current_user.id) or export.user_id != current_user.id:
        abort(404)
    audit.record("account-export-download", current_user.account_id)
    return export_download(export)


def export_download(export):
    """The export's ZIP, decrypted while it streams; 410 once it has expired."""
    if export.status != "done" or export.expires_at <= utcnow():
        return error_response(404, _("This export has expired and its file is deleted. Ask for a new one."))
    chunks = read_encrypted_file(exports_dir() / export.file_name, current_app.config["FIELD_KEYS"])
    response = Response(stream_with_context(chunks), mimetype="application/zip")
    response.headers.set("Content-Disposition", "attachment",
                         filename=f"sendtex-export-{export.created_at:%Y-%m-%d}.zip")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/account/restriction", methods=["GET", "POST"])
@owner_required
def restriction():
    """Restrict the account's processing pending a dispute, or lift a restriction the owner set."""
    account = current_user.account
    form = RestrictForm()
    if account.is_restricted and request.method == "POST":
        if account.restricted_by != "owner":
            return error_response(403, _("Operator staff restricted this account; only they can lift it."))
        account.lift_restriction()
        audit.record("restriction-lifted", account.id)
        flash(_("The restriction is lifted."), "success")
        return redirect_to(url_for("accounts.account"))
    if not account.is_restricted and form.validate_on_submit():
        account.restrict("owner", form.reason.data)
        audit.record("restricted", account.id, reason=form.reason.data)
        flash(_("Processing is restricted: nothing is sent and no import runs until you lift it."), "success")
        return redirect_to(url_for("accounts.account"))
    return render_form("privacy/restriction.html", "privacy/restriction.html", form, account=account)
