"""Lists: create, read, change, delete, and page through them with their subscriber counts."""
from flask_babel import gettext as _
from peewee import IntegrityError

from sendtex.api.auth import account_id, owned
from sendtex.api.errors import ApiError
from sendtex.api.forms import filled, validated
from sendtex.api.pagination import id_page
from sendtex.api.spec import CURSOR_PARAMS, ID, TIMESTAMP, component, obj, operation, page_of, stamp
from sendtex.db import db
from sendtex.lists.forms import ListForm
from sendtex.models.contacts import SUBSCRIPTION_STATUSES, MailingList

WRITABLE = ("name", "description", "opt_in", "visibility")
LIST = component("List", obj(
    ["id", "name", "description", "opt_in", "visibility", "created_at", "counts"],
    id=ID, name={"type": "string"}, description={"type": "string"},
    opt_in={"type": "string", "enum": ["single", "double"]},
    visibility={"type": "string", "enum": ["public", "private"]},
    created_at=TIMESTAMP,
    counts=obj(SUBSCRIPTION_STATUSES, **{status: {"type": "integer", "minimum": 0} for status in SUBSCRIPTION_STATUSES}),
))
LIST_INPUT = component("ListInput", obj(
    name={"type": "string", "description": "Required when creating; at most 200 characters."},
    description={"type": "string", "description": "At most 2,000 characters."},
    opt_in={"type": "string", "enum": ["single", "double"], "default": "double"},
    visibility={"type": "string", "enum": ["public", "private"], "default": "private"},
))


def list_json(lst, counts=None):
    """A list as the API shows it."""
    return {"id": lst.id, "name": lst.name, "description": lst.description, "opt_in": lst.opt_in,
            "visibility": lst.visibility, "created_at": stamp(lst.created_at),
            "counts": counts if counts is not None else lst.counts_by_status()}


def _save(lst, body):
    """Validate body with the list form over the list's current values and store it; 400 or 409 otherwise."""
    values = {name: getattr(lst, name) for name in WRITABLE}
    values.update({name: value for name, value in body.items() if value is not None})
    form = validated(filled(ListForm, values))
    form.populate_obj(lst)
    try:
        with db.atomic():
            lst.save()
    except IntegrityError:
        raise ApiError(409, details=[("name", _("You already have a list with this name. Choose another name."))]) \
            from None
    return lst


@operation("GET", "/lists", scope="read", tag="Lists", query=CURSOR_PARAMS, responses={200: page_of(LIST)})
def list_lists(query):
    """The account's lists in the order they were created, with their counts by subscription status."""
    page = id_page(MailingList.for_account(account_id()), MailingList, query, "lists", lambda lst: lst)
    counts = MailingList.counts_for([lst.id for lst in page["data"]]) if page["data"] else {}
    page["data"] = [list_json(lst, counts[lst.id]) for lst in page["data"]]
    return page


@operation("POST", "/lists", scope="write", tag="Lists", body=LIST_INPUT, responses={201: LIST}, errors=(409,))
def create_list(body):
    """Create a list (the name must be new in the account)."""
    return list_json(_save(MailingList(account=account_id()), body)), 201


@operation("GET", "/lists/{list_id}", scope="read", tag="Lists", responses={200: LIST})
def get_list(list_id):
    """One list with its counts."""
    return list_json(owned(MailingList, list_id))


@operation("PATCH", "/lists/{list_id}", scope="write", tag="Lists", body=LIST_INPUT, responses={200: LIST},
           errors=(409,))
def update_list(list_id, body):
    """Change a list's name, description, opt-in or visibility; what is left out stays."""
    return list_json(_save(owned(MailingList, list_id), body))


@operation("DELETE", "/lists/{list_id}", scope="write", tag="Lists", responses={204: None})
def delete_list(list_id):
    """Delete a list and its memberships; the contacts stay."""
    lst = owned(MailingList, list_id)
    with db.atomic():
        lst.delete_instance()
    return None, 204
