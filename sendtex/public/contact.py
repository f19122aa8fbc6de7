"""The operator's contact form: a visitor's message is stored for staff, who may be told of it by mail."""
from flask import current_app, url_for
from flask_babel import get_locale

from sendtex.models.website import ContactMessage
from sendtex.public.forms import ContactForm, take_in
from sendtex.public.routes import bp
from sendtex.tasks.website import notify_contact_message
from sendtex.web import render


@bp.route("/contact", methods=["GET", "POST"])
def contact():
    """The contact form; a sent message is stored for staff and the visitor sees a thank-you page."""
    return take_in(ContactForm(), "contact-network", "public/contact.html", _store, url_for("public.contact_thanks"))


def _store(form):
    message = ContactMessage.create(**form.values(), language=str(get_locale()))
    if current_app.config["CONTACT_FORM_NOTIFY"]:
        notify_contact_message(message.id)


@bp.get("/contact/thanks")
def contact_thanks():
    """What a visitor sees after sending the contact form."""
    return render("public/contact_thanks.html", "public/contact_thanks.html")
