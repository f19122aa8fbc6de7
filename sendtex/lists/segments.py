"""Segments: the saved segments, the editor with its condition rows and live count, deleting.

The editor's condition rows are plain form fields named c-<row>-field, c-<row>-op, c-<row>-value (and
c-<row>-status for list membership, c-<row>-digest for a saved exact e-mail match). Without JavaScript
the buttons "Add a condition" and "Update the rows and count" re-render the whole form; with htmx a
changed field or operator swaps in just its row.
"""
import re

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from sendtex import segments
from sendtex.audience import FieldSet, field_label
from sendtex.lists import bp
from sendtex.lists.forms import SegmentForm
from sendtex.models.base import utcnow
from sendtex.models.contacts import MailingList, Segment
from sendtex.web import owned_or_404, redirect_to, render

ROW_KEY = re.compile(r"c-(\d{1,3})-field")
ROW_PARTS = ("field", "op", "value", "status", "digest")
NEW_SEGMENT_ROWS = 2


@bp.route("/segments", endpoint="segments")
def segment_index():
    """The account's saved segments."""
    saved = Segment.for_account(current_user.account_id).order_by(Segment.name, Segment.id)
    return render("lists/segments.html", "lists/segments.html", segments=list(saved))


@bp.route("/segments/new", methods=["GET", "POST"])
def new_segment():
    """Build a segment; saving it opens its own page."""
    segment = Segment(account=current_user.account_id, name="", match="all", conditions=[])
    return _editor(segment, [_blank() for _row in range(NEW_SEGMENT_ROWS)])


@bp.route("/segments/<int:segment_id>", methods=["GET", "POST"])
def segment(segment_id):
    """See and change a saved segment."""
    segment = owned_or_404(Segment, segment_id)
    return _editor(segment, _rows_of(segment.conditions) + [_blank()])


@bp.route("/segments/<int:segment_id>/delete", methods=["POST"])
def delete_segment(segment_id):
    """Delete a segment (its contacts stay)."""
    segment = owned_or_404(Segment, segment_id)
    segment.delete_instance()
    flash(_("The segment “%(name)s” is deleted. Its contacts are not.", name=segment.name), "success")
    return redirect_to(url_for("lists.segments"))


@bp.route("/segments/count", methods=["POST"])
def segment_count():
    """The live count of the editor's conditions, as a small fragment."""
    editor = Editor(current_user.account_id, _rows_from_form(request.form))
    return _count_fragment(editor, request.form.get("match", ""))


@bp.route("/segments/row", methods=["POST"])
def segment_row():
    """One condition row re-rendered for its chosen field and operator, with the count out of band."""
    index = request.form.get("row", type=int)
    rows = _rows_from_form(request.form)
    if index is None or not 0 <= index < len(rows):
        abort(400)
    editor = Editor(current_user.account_id, rows)
    editor.fit(index)
    row_html = render("lists/_condition_row.html", "lists/_condition_row.html", row=editor.describe(index),
                      **editor.choices())
    count_html = _count_fragment(editor, request.form.get("match", ""), oob=True)[0]
    return row_html + count_html, 200


def _editor(segment, stored_rows):
    form = SegmentForm(obj=segment)
    action = request.form.get("action", "save")
    if request.method == "GET":
        editor = Editor(segment.account_id, stored_rows)
        editor.validate()  # a saved condition whose field was since deleted or encrypted shows why
        return _render_editor(segment, form, editor)
    editor = Editor(segment.account_id, _rows_from_form(request.form))
    if action != "save":
        editor.apply(action)
        return _render_editor(segment, form, editor, count=True)
    conditions = editor.validate()
    if form.validate_on_submit() and not editor.errors:
        created = segment.id is None
        segment.name, segment.match, segment.conditions, segment.updated_at = (
            form.name.data, form.match.data, conditions, utcnow())
        segment.save()
        flash(_("The segment “%(name)s” is saved.", name=segment.name), "success")
        if created or not request.htmx:
            return redirect_to(url_for("lists.segment", segment_id=segment.id))
        editor = Editor(segment.account_id, _rows_of(segment.conditions) + [_blank()])
    return _render_editor(segment, form, editor), 422 if form.errors or editor.errors else 200


def _render_editor(segment, form, editor, count=False):
    """The editor page or form fragment; count=True counts now (for browsers without JavaScript)."""
    counted = editor.count(form.match.data) if count and not request.htmx else None
    return render("lists/segment.html", "lists/_segment_form.html", segment=segment, form=form,
                  rows=editor.described(), counted=counted, **editor.choices())


def _count_fragment(editor, match, oob=False):
    counted = editor.count(match)
    html = render("lists/_segment_count.html", "lists/_segment_count.html", counted=counted, oob=oob)
    return html, 422 if counted["errors"] else 200


def _blank():
    return dict.fromkeys(ROW_PARTS, "")


def _rows_from_form(formdata):
    """The editor's rows in form order, at most the segment's limit plus one blank row."""
    indexes = sorted({int(match.group(1)) for key in formdata if (match := ROW_KEY.fullmatch(key))})
    return [{part: formdata.get(f"c-{index}-{part}", "").strip() for part in ROW_PARTS}
            for index in indexes[:segments.MAX_CONDITIONS + 1]]


def _rows_of(conditions):
    """Rows showing saved conditions (an exact e-mail match shows its digest, never an address)."""
    rows = []
    for condition in conditions:
        row = _blank()
        row.update({part: "" if condition.get(part) is None else str(condition[part]) for part in ROW_PARTS
                    if part in condition})
        rows.append(row)
    return rows


class Editor:
    """The condition rows of one editor: their meaning, errors and the choices to render them with."""

    def __init__(self, account_id, rows):
        self.account_id = account_id
        self.rows = rows
        self.fields = FieldSet(account_id)
        self.lists = list(MailingList.for_account(account_id).order_by(MailingList.name))
        self.errors = {}  # row index: message

    def conditions(self):
        """(conditions of the filled-in rows, the row index of each)."""
        filled = [index for index, row in enumerate(self.rows) if row["field"]]
        return [self._condition(self.rows[index]) for index in filled], filled

    @staticmethod
    def _condition(row):
        condition = {"field": row["field"], "op": row["op"]}
        if row["value"] or not row["digest"]:
            condition["value"] = row["value"]
        else:
            condition["digest"] = row["digest"]
        if row["field"] == "list":
            condition["status"] = row["status"]
        return condition

    def validate(self):
        """The clean conditions; row errors kept in self.errors."""
        conditions, indexes = self.conditions()
        clean, errors = segments.validate(conditions, self.account_id)
        self.errors = {indexes[position]: message for position, message in errors.items()}
        return clean

    def count(self, match):
        """{"n": contacts matching, "errors": ["Condition 2: …"]} for the count fragment."""
        conditions, indexes = self.conditions()
        try:
            return {"n": segments.count(match, conditions, self.account_id), "errors": []}
        except segments.InvalidSegment as exc:
            return {"n": None, "errors": [
                _("Condition %(n)d: %(message)s", n=indexes[key] + 1, message=message) if key != "match"
                else str(message) for key, message in exc.errors.items()]}

    def apply(self, action):
        """Add a blank row ("add") or remove one ("remove-<row>"); anything else just re-renders."""
        if action == "add" and len(self.rows) < segments.MAX_CONDITIONS:
            self.rows.append(_blank())
        elif action.startswith("remove-") and action[7:].isdigit() and int(action[7:]) < len(self.rows):
            del self.rows[int(action[7:])]

    def fit(self, index):
        """After the field changed: an operator its type allows and a value its select offers (as the browser shows)."""
        row = self.rows[index]
        allowed = [op for op, _label, usable in self.describe(index)["ops"] if usable]
        if row["op"] not in allowed:
            row["op"] = allowed[0] if allowed else ""
        if row["field"] != "email":
            row["digest"] = ""
        described = self.describe(index)
        offered = {"list": [str(mailing_list.id) for mailing_list in self.lists], "choice": described["choices"],
                   "status": list(segments.CONTACT_STATUS_LABELS)}.get(described["kind"])
        if offered is not None and row["value"] not in offered:
            row["value"] = offered[0] if offered else ""

    def choices(self):
        """What every row's selects offer: fields (encrypted ones explained), lists, statuses."""
        options = [("status", _("Contact status"), "", True), ("list", _("List membership"), "", True)]
        for field in self.fields.fields:
            usable, note = bool(segments.ops_for(field)), ""
            if field.encrypted:
                note = _("encrypted: can only be matched exactly") if usable \
                    else _("encrypted: cannot be used in segments")
            options.append((field.key, field_label(field), note, usable))
        return dict(field_options=options, lists=self.lists, contact_statuses=segments.CONTACT_STATUS_LABELS,
                    subscription_statuses=segments.SUBSCRIPTION_STATUS_LABELS)

    def described(self):
        return [self.describe(index) for index in range(len(self.rows))]

    def describe(self, index):
        """A row with its operators, the kind of value input and its error, for _condition_row.html."""
        row = dict(self.rows[index], index=index, error=self.errors.get(index))
        key = row["field"]
        field = self.fields.by_key.get(key)
        if key in ("list", "status"):
            ops, kind = segments.OPS[key], key
        elif field is not None:
            ops = segments.ops_for(field)
            kind = "email" if key == "email" and row["op"] in segments.ENCRYPTED_EMAIL_OPS else field.type
        else:
            ops, kind = tuple(segments.OP_LABELS), "text"
        if row["op"] in segments.VALUELESS_OPS or kind == "boolean":
            kind = "none"
        # An encrypted e-mail address still shows the text operators, the impossible ones disabled.
        offered = segments.OPS["text"] if key == "email" and field is not None and field.encrypted else ops
        row.update(ops=[(op, segments.OP_LABELS[op], op in ops) for op in offered], kind=kind,
                   choices=field.choices if field is not None and field.type == "choice" else [])
        return row
