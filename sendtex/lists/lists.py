"""Mailing lists: the index with subscriber counts, create, inline edit, detail page and delete."""
from urllib.parse import urlsplit

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from peewee import IntegrityError

from sendtex.db import db
from sendtex.lists import bp
from sendtex.lists.forms import BULK_ACTIONS, OPT_IN_LABELS, VISIBILITY_LABELS, ListForm, unique_ids
from sendtex.models.contacts import MailingList
from sendtex.segments import CONTACT_STATUS_LABELS, SUBSCRIPTION_STATUS_LABELS
from sendtex.web import owned_or_404, redirect_to, render


@bp.context_processor
def _audience_labels():
    return dict(opt_in_labels=OPT_IN_LABELS, visibility_labels=VISIBILITY_LABELS, bulk_actions=BULK_ACTIONS,
                contact_status_labels=CONTACT_STATUS_LABELS, subscription_status_labels=SUBSCRIPTION_STATUS_LABELS)


def lists_of_account(account_id):
    """The account's lists by name, each with its counts by subscription status."""
    lists = list(MailingList.for_account(account_id).order_by(MailingList.name, MailingList.id))
    counts = MailingList.counts_for([lst.id for lst in lists]) if lists else {}
    return [(lst, counts[lst.id]) for lst in lists]


def _index(form, status=200):
    unique_ids(form, "new-list")
    return render("lists/lists.html", "lists/_lists.html", lists=lists_of_account(current_user.account_id),
                  form=form), status


def _card(lst, template="lists/_list.html", full="lists/list.html", status=200, **context):
    return render(full, template, lst=lst, counts=lst.counts_by_status(), **context), status


def _save(form, lst):
    """Store the form on the list; False (with the error on the form) if the name is taken."""
    form.populate_obj(lst)
    try:
        with db.atomic():
            lst.save()
    except IntegrityError:
        form.name.errors.append(_("You already have a list with this name. Choose another name."))
        return False
    return True


@bp.route("/lists")
def lists():
    """Every list of the account with its subscriber counts, and a form to create one."""
    return _index(ListForm(formdata=None))


@bp.route("/lists", methods=["POST"])
def create_list():
    """Create a list; the index again (or its fragment), with the form's errors if any."""
    form = ListForm()
    if form.validate_on_submit() and _save(form, MailingList(account=current_user.account_id)):
        flash(_("The list “%(name)s” is created.", name=form.name.data), "success")
        if not request.htmx:
            return redirect_to(url_for("lists.lists"))
        form = ListForm(formdata=None)
    return _index(form, 422 if form.errors else 200)


@bp.route("/lists/<int:list_id>")
def list_detail(list_id):
    """A list's page: its settings and counts (the card alone for htmx, after an edit is cancelled)."""
    return _card(owned_or_404(MailingList, list_id))


@bp.route("/lists/<int:list_id>/edit", methods=["GET", "POST"])
def edit_list(list_id):
    """Edit a list's name, description, opt-in and visibility in place."""
    lst = owned_or_404(MailingList, list_id)
    form = ListForm(obj=lst)
    if form.validate_on_submit() and _save(form, lst):
        flash(_("The list “%(name)s” is saved.", name=lst.name), "success")
        return _card(lst) if request.htmx else redirect_to(url_for("lists.list_detail", list_id=lst.id))
    unique_ids(form, f"list-{lst.id}")
    return _card(lst, "lists/_list_form.html", "lists/list_edit.html", 422 if form.errors else 200, form=form)


@bp.route("/lists/<int:list_id>/delete", methods=["GET", "POST"])
def delete_list(list_id):
    """Ask to confirm (GET), then delete the list and its memberships (POST); the contacts stay."""
    lst = owned_or_404(MailingList, list_id)
    if request.method == "GET":
        return _card(lst, "lists/_list_delete.html", "lists/list_delete.html")
    with db.atomic():
        lst.delete_instance()
    flash(_("The list “%(name)s” is deleted. Its contacts are still in your contacts.", name=lst.name), "success")
    came_from = urlsplit(request.htmx.current_url or "").path
    if request.htmx and came_from != url_for("lists.list_detail", list_id=list_id):
        return ""  # the list's card disappears from the index
    return redirect_to(url_for("lists.lists"))
