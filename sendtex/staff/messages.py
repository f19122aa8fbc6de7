"""Staff pages for the contact-form messages: the list (unanswered first), one message, answered, delete."""
from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from sendtex.models.base import utcnow
from sendtex.models.website import ContactMessage
from sendtex.staff import NAV, NavItem, bp
from sendtex.web import redirect_to, render, row_or_404

PAGE_SIZE, MAX_PAGE = 50, 10_000
NAV.append(NavItem("staff.messages", _l("Contact messages"),
                   _l("Messages sent through the website's contact form: read, mark answered, delete.")))


@bp.get("/messages")
def messages():
    """The contact messages: unanswered ones first, newest first, a page at a time."""
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    rows = list(ContactMessage.for_staff().paginate(page, PAGE_SIZE))
    return render("staff/messages.html", "staff/messages.html", rows=rows, page=page, page_size=PAGE_SIZE,
                  unanswered=ContactMessage.unanswered_count())


@bp.get("/messages/<int:message_id>")
def message(message_id):
    """One contact message in full, with its answered state."""
    return render("staff/messages_detail.html", "staff/messages_detail.html",
                  message=row_or_404(ContactMessage, message_id))


@bp.post("/messages/<int:message_id>/answered")
def mark_answered(message_id):
    """Mark the message answered (answered=1) or back to unanswered (answered=0)."""
    row = row_or_404(ContactMessage, message_id)
    answered = request.form.get("answered") == "1"
    ContactMessage.update(answered_at=utcnow() if answered else None).where(ContactMessage.id == row.id).execute()
    flash(_("Marked as answered.") if answered else _("Marked as not answered."), "success")
    return redirect_to(url_for("staff.message", message_id=row.id))


@bp.post("/messages/<int:message_id>/delete")
def delete_message(message_id):
    """Delete the message for good (before its retention period ends, e.g. on the sender's request)."""
    row = row_or_404(ContactMessage, message_id)
    row.delete_instance()
    flash(_("The message from %(name)s is deleted.", name=f"{row.first_name} {row.last_name}"), "success")
    return redirect_to(url_for("staff.messages"))
