"""The operator's own newsletter runs on Sendtex: a signup form of the operator's account (OPERATOR_NEWSLETTER_FORM).

Every user can see from their account page whether they receive it, and withdraw their consent (which is also
an objection to any further marketing mail) in one click.
"""
from flask import current_app, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from sendtex import audience, audit
from sendtex.models.contacts import Subscription
from sendtex.models.subscribe import SignupForm
from sendtex.preferences.subscriber import Subscriber
from sendtex.privacy.routes import bp
from sendtex.web import redirect_to


def newsletter_form():
    """The operator's newsletter signup form, or None when none is configured."""
    public_id = current_app.config["OPERATOR_NEWSLETTER_FORM"]
    return SignupForm.get_or_none(SignupForm.public_id == public_id) if public_id else None


def newsletter_contact(email):
    """The contact with this address in the operator's newsletter account, if it is subscribed to something."""
    signup_form = newsletter_form()
    contact = audience.find_by_email(signup_form.account_id, email) if signup_form else None
    if contact is None or contact.status != "active":
        return None
    subscribed = Subscription.select().where((Subscription.contact == contact.id)
                                             & (Subscription.status != "unsubscribed")).exists()
    return contact if subscribed else None


@bp.post("/account/newsletter/withdraw")
@login_required
def withdraw_newsletter():
    """Stop the operator's newsletter for the signed-in user: consent withdrawn, objection recorded."""
    contact = newsletter_contact(current_user.email)
    if contact is not None:
        Subscriber(contact.uid).unsubscribe_all()
        audit.record("newsletter-withdrawn", current_user.account_id, target=current_user.email)
    flash(_("You no longer receive our newsletter. Your consent is withdrawn and we will not send you marketing "
            "mail."), "success")
    return redirect_to(url_for("accounts.account"))


@bp.app_context_processor
def _newsletter_helpers():
    return {"operator_newsletter": newsletter_form, "receives_operator_newsletter":
            lambda: current_user.is_authenticated and newsletter_contact(current_user.email) is not None}
