"""Sending domains: add one (it gets a DKIM key), publish its DKIM record, check DNS, new key, delete."""
from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired

from sendtex import domains
from sendtex.campaigns import bp
from sendtex.forms import Normalise
from sendtex.models.campaigns import SendingDomain
from sendtex.validation import Invalid
from sendtex.web import owned_or_404, redirect_to, render, render_form


class DomainForm(FlaskForm):
    domain = StringField(_l("Domain"), validators=[InputRequired(_l("Enter the domain you send from.")),
                                                   Normalise(domains.normalise_domain)])


@bp.route("/domains", endpoint="domains")
def domain_index():
    """The account's sending domains and a form to add one."""
    return _index(DomainForm(formdata=None))


@bp.route("/domains", methods=["POST"])
def add_domain():
    """Add a sending domain with a new DKIM key and open its page; the form again with its errors if any."""
    form = DomainForm()
    if form.validate_on_submit():
        try:
            domain = domains.add_domain(current_user.account_id, form.domain.data)
        except Invalid as exc:
            form.domain.errors.append(str(exc))
        else:
            flash(_("%(domain)s is added. Publish its DKIM record below, then check DNS.",
                    domain=domains.unicode_name(domain.domain)), "success")
            return redirect_to(url_for("campaigns.domain", domain_id=domain.id))
    return _index(form)


@bp.route("/domains/<int:domain_id>")
def domain(domain_id):
    """A sending domain's page: its DNS state, the DKIM record to publish, SPF and DMARC hints."""
    return _page(owned_or_404(SendingDomain, domain_id))


@bp.route("/domains/<int:domain_id>/check", methods=["POST"])
def check_domain(domain_id):
    """Look the DKIM record up in DNS; the domain is verified when it publishes this key."""
    domain = owned_or_404(SendingDomain, domain_id)
    check = domains.check_dns(domain)
    message = check_message(check, domains.record_of(domain)[0])
    if request.htmx:
        return _page(domain, "campaigns/_domain_status.html", check, message)
    flash(message, "success" if check.status == "verified" else "error")
    return redirect_to(url_for("campaigns.domain", domain_id=domain.id))


@bp.route("/domains/<int:domain_id>/key", methods=["POST"])
def new_key(domain_id):
    """Give the domain a new DKIM key under a new selector; it must be published and checked again."""
    domain = owned_or_404(SendingDomain, domain_id)
    domains.regenerate_key(domain)
    flash(_("The domain has a new DKIM key. Publish its record, then check DNS."), "success")
    if request.htmx:
        return _page(domain)
    return redirect_to(url_for("campaigns.domain", domain_id=domain.id))


@bp.route("/domains/<int:domain_id>/delete", methods=["GET", "POST"])
def delete_domain(domain_id):
    """Ask, then delete a sending domain with its key."""
    domain = owned_or_404(SendingDomain, domain_id)
    name = domains.unicode_name(domain.domain)
    if request.method == "GET":
        return render("campaigns/domain_delete.html", "campaigns/domain_delete.html", domain=domain, name=name)
    domain.delete_instance()
    flash(_("%(domain)s is deleted, with its DKIM key.", domain=name), "success")
    return redirect_to(url_for("campaigns.domains"))


def check_message(check, record_name):
    """What a DNS check found, for the marketer."""
    if check.status == "verified":
        return _("The DKIM record is published: the domain is verified and can be used as a from address.")
    if check.status == "missing":
        return _("No TXT record was found at %(name)s yet. DNS changes can take a while to show; try again later.",
                 name=record_name)
    if check.status == "mismatch":
        return _("The TXT record at %(name)s holds a different key. Publish exactly the value shown on this page.",
                 name=record_name)
    return _("The DNS lookup failed (%(detail)s). Nothing was changed; try again later.", detail=check.detail)


def _index(form):
    rows = SendingDomain.for_account(current_user.account_id).order_by(SendingDomain.domain)
    return render_form("campaigns/domains.html", "campaigns/_domain_form.html", form,
                       domains=list(rows), unicode_name=domains.unicode_name)


def _page(domain, fragment="campaigns/_domain.html", check=None, message=None):
    record_name, record_value = domains.record_of(domain)
    return render("campaigns/domain.html", fragment, domain=domain, name=domains.unicode_name(domain.domain),
                  record_name=record_name, record_value=record_value, check=check, message=message)
