"""Cursor pages: the cursor is opaque and signed, bound to the key's account, and continues after a row."""
from flask_babel import lazy_gettext as _l

from sendtex import tokens
from sendtex.api.auth import account_id
from sendtex.api.errors import invalid

PURPOSE = "api-cursor"


def make_cursor(position):
    """An opaque cursor for a position ({"after": id, ...}) in a collection of the key's account."""
    return tokens.sign(PURPOSE, {"account": account_id(), **position})


def read_cursor(text, collection):
    """The position a cursor stands for; a 400 when it was altered, or made for another collection or account."""
    if not text:
        return {}
    try:
        position = tokens.unsign(PURPOSE, text, max_age=None)
    except tokens.TokenError:
        position = None
    if not isinstance(position, dict) or position.get("account") != account_id() \
            or position.get("collection") != collection:
        raise invalid([("cursor", _l("This cursor is not valid. Start again from the first page."))])
    return position


def id_page(query, model, params, collection, render):
    """One page of query in id order after the cursor in params: {"data": [...], "next_cursor": ...}."""
    after = read_cursor(params["cursor"], collection).get("after", 0)
    rows = list(query.where(model.id > after).order_by(model.id).limit(params["limit"] + 1))
    more = len(rows) > params["limit"]
    rows = rows[:params["limit"]]
    cursor = make_cursor({"collection": collection, "after": rows[-1].id}) if more else None
    return {"data": [render(row) for row in rows], "next_cursor": cursor}
