"""CSV exports of a list, a segment or all contacts, streamed with every field decrypted."""
from flask_babel import gettext as _
from flask_login import current_user

from sendtex import csvexport, segments
from sendtex.audience import FieldSet
from sendtex.lists import bp
from sendtex.models.contacts import Contact, MailingList, Segment
from sendtex.web import error_response, owned_or_404


@bp.route("/lists/<int:list_id>/export.csv")
def export_list(list_id):
    """A list's contacts with their membership, as a CSV download."""
    mailing_list = owned_or_404(MailingList, list_id)
    fields = FieldSet(current_user.account_id)
    rows = csvexport.contact_rows(fields, csvexport.list_members(current_user.account_id, mailing_list.id),
                                  membership=True)
    return csvexport.csv_response(csvexport.export_filename(mailing_list.name, "list"),
                                  csvexport.contact_header(fields, membership=True), rows)


@bp.route("/segments/<int:segment_id>/export.csv")
def export_segment(segment_id):
    """A segment's contacts, as a CSV download."""
    segment = owned_or_404(Segment, segment_id)
    try:
        where = segments.compile_conditions(segment.match, segment.conditions, current_user.account_id)
    except segments.InvalidSegment as exc:
        return error_response(422, _("This segment cannot be exported until its conditions are fixed: %(reason)s",
                                     reason=str(exc)))
    fields = FieldSet(current_user.account_id)
    rows = csvexport.contact_rows(fields, Contact.select().where(where))
    return csvexport.csv_response(csvexport.export_filename(segment.name, "segment"),
                                  csvexport.contact_header(fields), rows)


@bp.route("/contacts/export.csv")
def export_contacts():
    """Every contact of the account, as a CSV download."""
    fields = FieldSet(current_user.account_id)
    rows = csvexport.contact_rows(fields, Contact.for_account(current_user.account_id))
    return csvexport.csv_response(csvexport.export_filename("contacts"), csvexport.contact_header(fields), rows)
