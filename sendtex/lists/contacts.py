"""Contacts: the table (filters, search, keyset pages), a contact's page, inline edit, add and delete."""
import dataclasses

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from sendtex import audience
from sendtex.db import db
from sendtex.lists import bp, filters
from sendtex.lists.forms import ContactValues, status_choices
from sendtex.models.contacts import CONTACT_STATUSES, SUBSCRIPTION_STATUSES, Contact, MailingList, Segment, Subscription
from sendtex.models.jobs import Job
from sendtex.tasks import contacts as bulk_tasks
from sendtex.web import owned_or_404, redirect_to, render

FILTER_KEYS = ("q", "list", "membership", "status", "segment", "sort")


@dataclasses.dataclass
class Row:
    """A contact with its values decrypted in memory, the fields that failed to decrypt, and its memberships."""

    contact: Contact
    values: dict
    errors: dict
    memberships: list


def contact_rows(contacts, fields):
    """Rows for these contacts (one page at most): values read in memory, memberships in one query."""
    ids = [contact.id for contact in contacts]
    memberships = {contact_id: [] for contact_id in ids}
    if ids:
        query = (Subscription.select(Subscription, MailingList).join(MailingList)
                 .where(Subscription.contact.in_(ids)).order_by(MailingList.name, MailingList.id))
        for subscription in query:
            memberships[subscription.contact_id].append(subscription)
    return [Row(contact, *audience.read_values(contact, fields), memberships[contact.id]) for contact in contacts]


def filter_params(source, fields):
    """The filter settings of a request, for links; a searched address stays out of URLs while e-mail is encrypted."""
    params = {key: source.get(key) for key in FILTER_KEYS if source.get(key)}
    if fields.is_encrypted("email"):
        params.pop("q", None)
    return params


def parse_filter(source, fields):
    """The filter, cursor and filter errors of a request; 404 for a list or segment not of the account."""
    contact_filter, cursor, errors = filters.parse(source, fields.account_id, fields)
    if contact_filter.list_id is not None:
        owned_or_404(MailingList, contact_filter.list_id)
    if contact_filter.segment_id is not None:
        owned_or_404(Segment, contact_filter.segment_id)
    return contact_filter, cursor, errors


def table_context(fields, source, **extra):
    """What the contacts page shows for the filter and cursor in source, and the status to answer with."""
    account_id = fields.account_id
    contact_filter, cursor, errors = parse_filter(source, fields)
    page = None if errors else contact_filter.page(**cursor)
    params = filter_params(source, fields)
    context = dict(
        fields=fields, filter=contact_filter, page=page, rows=contact_rows(page.rows, fields) if page else [],
        errors=errors, params=params, search=source.get("q", ""), email_encrypted=fields.is_encrypted("email"),
        lists=list(MailingList.for_account(account_id).order_by(MailingList.name)),
        segments=list(Segment.for_account(account_id).order_by(Segment.name)),
        statuses=status_choices(), subscription_statuses=SUBSCRIPTION_STATUSES,
        refresh_url=url_for("lists.contacts", **params, **{k: v for k, v in cursor.items() if v}),
        previous_url=page and page.previous_cursor and url_for("lists.contacts", **params, **page.previous_cursor),
        next_url=page and page.next_cursor and url_for("lists.contacts", **params, **page.next_cursor),
        running_jobs=[bulk_tasks.describe(job) for job in Job.for_account(account_id).where(
            (Job.kind == bulk_tasks.KIND) & Job.status.in_(("queued", "running")))],
        bulk_errors=[])
    context.update(extra)
    return context, 422 if errors or context["bulk_errors"] else 200


@bp.route("/contacts", methods=["GET", "POST"])
def contacts():
    """The contacts table; a POST carries a search for an encrypted address, which must stay out of URLs and logs."""
    fields = audience.FieldSet(current_user.account_id)
    context, status = table_context(fields, request.form if request.method == "POST" else request.args)
    return render("lists/contacts.html", "lists/_contacts_results.html", **context), status


def _row(contact, fields):
    return contact_rows([contact], fields)[0]


@bp.route("/contacts/<int:contact_id>")
def contact_detail(contact_id):
    """A contact's page: every field, decrypted in memory, and its lists with status and dates."""
    contact = owned_or_404(Contact, contact_id)
    fields = audience.FieldSet(current_user.account_id)
    return render("lists/contact.html", "lists/_contact_detail.html", row=_row(contact, fields), fields=fields)


@bp.route("/contacts/<int:contact_id>/row")
def contact_row(contact_id):
    """The contact's row of the table (after an inline edit is cancelled); the contact's page without htmx."""
    contact = owned_or_404(Contact, contact_id)
    fields = audience.FieldSet(current_user.account_id)
    return render("lists/contact.html", "lists/_contact_row.html", row=_row(contact, fields), fields=fields)


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
def edit_contact(contact_id):
    """Edit a contact: in its table row (htmx: the built-in fields), or on a page with every field."""
    contact = owned_or_404(Contact, contact_id)
    fields = audience.FieldSet(current_user.account_id)
    form = ContactValues.of_contact(fields, contact)
    if request.method == "POST" and _save_contact(contact, fields, form):
        flash(_("The contact is saved."), "success")
        if request.htmx:
            return render("lists/contact.html", "lists/_contact_row.html", row=_row(contact, fields), fields=fields)
        return redirect_to(url_for("lists.contact_detail", contact_id=contact.id))
    page = render("lists/contact_edit.html", "lists/_contact_row_form.html", contact=contact, form=form,
                  fields=fields, statuses=status_choices())
    return page, 422 if form.errors else 200


def _save_contact(contact, fields, form):
    """Validate the submitted values and store those that changed; False with errors on the form otherwise."""
    form.read(request.form)
    status = request.form.get("_status", contact.status)
    if status not in CONTACT_STATUSES:
        form.errors["_status"] = _("Choose a status from the list.")
    if not form.validate(partial=True) or form.errors:
        return False
    changed = {key: value for key, value in form.values.items() if value != form.current.get(key)}
    contact.status = status
    try:
        audience.update_contact(contact, fields, changed)
    except audience.DuplicateContact:
        form.errors["email"] = _("Another contact already has this e-mail address.")
        return False
    except audience.SuppressedAddress:
        form.errors["email"] = str(audience.SUPPRESSED)
        return False
    return True


@bp.route("/contacts/new", methods=["GET", "POST"])
def add_contact():
    """Add one contact: e-mail address, fields and the lists to put it on."""
    fields = audience.FieldSet(current_user.account_id)
    form = ContactValues(fields)
    lists = list(MailingList.for_account(current_user.account_id).order_by(MailingList.name))
    chosen = request.form.getlist("_lists")
    if request.method == "POST":
        form.read(request.form)
        list_ids = _chosen_lists(chosen, lists, form)
        membership = request.form.get("_membership", "subscribed")
        if membership not in ("subscribed", "unconfirmed"):
            form.errors["_membership"] = _("Choose a subscription status from the list.")
        if form.validate() and not form.errors:
            try:
                contact = audience.create_contact(fields, form.values, list_ids, membership)
            except audience.DuplicateContact:
                form.errors["email"] = _("This address is already a contact.")
            except audience.SuppressedAddress:
                form.errors["email"] = str(audience.SUPPRESSED)
            else:
                flash(_("The contact is added."), "success")
                return redirect_to(url_for("lists.contact_detail", contact_id=contact.id))
    page = render("lists/contact_new.html", "lists/_contact_form.html", form=form, fields=fields, lists=lists,
                  chosen=chosen, adding=True)
    return page, 422 if form.errors else 200


def _chosen_lists(chosen, lists, form):
    own = {str(lst.id): lst.id for lst in lists}
    if any(value not in own for value in chosen):
        form.errors["_lists"] = _("One of the chosen lists does not exist any more. Choose again.")
    return [own[value] for value in chosen if value in own]


@bp.route("/contacts/<int:contact_id>/delete", methods=["GET", "POST"])
def delete_contact(contact_id):
    """Ask to confirm (GET), then delete the contact and its memberships (POST)."""
    contact = owned_or_404(Contact, contact_id)
    if request.method == "GET":
        fields = audience.FieldSet(current_user.account_id)
        return render("lists/contact_delete.html", "lists/_contact_delete.html", row=_row(contact, fields))
    with db.atomic():
        contact.delete_instance()
    flash(_("The contact is deleted."), "success")
    return redirect_to(url_for("lists.contacts"))
