"""Layouts ("templates"): reusable HTML around a campaign's content, with a {{ content }} slot."""
from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from sendtex.audience import FieldSet
from sendtex.campaigns import bp
from sendtex.campaigns.campaigns import template_problems
from sendtex.campaigns.forms import LayoutForm
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Layout
from sendtex.web import owned_or_404, redirect_to, render

STARTER_LAYOUT = """<!doctype html>
<html>
<body style="margin:0;padding:0;background:#f4f4f4;font-family:Arial,sans-serif">
  <div style="max-width:600px;margin:0 auto;background:#ffffff;padding:24px">
    {{ content }}
  </div>
  <p style="text-align:center;font-size:12px;color:#777777">
    <a href="{{ unsubscribe_url }}">UNSUBSCRIBE</a>
  </p>
</body>
</html>
"""


def _index(form, status=200):
    layouts = Layout.for_account(current_user.account_id).order_by(Layout.name, Layout.id)
    return render("campaigns/layouts.html", "campaigns/_layouts.html", layouts=list(layouts), form=form), status


def _page(layout, form, status=200):
    return render("campaigns/layout.html", "campaigns/_layout_form.html", layout=layout, form=form,
                  used_by=_campaigns_using(layout)), status


def _campaigns_using(layout):
    return Campaign.for_account(layout.account_id).where(Campaign.layout == layout.id).count() if layout.id else 0


def _check(form, layout):
    """Template problems of the layout's HTML as errors on the form; True when there are none."""
    problems = template_problems(form.html.data, FieldSet(layout.account_id), "layout")
    form.html.errors = list(form.html.errors) + problems
    return not problems


@bp.route("/layouts")
def layouts():
    """The account's layouts and a form to create one."""
    return _index(LayoutForm(formdata=None, html=STARTER_LAYOUT.replace("UNSUBSCRIBE", _("Unsubscribe"))))


@bp.route("/layouts", methods=["POST"])
def create_layout():
    """Create a layout and open it; the index with the form's errors otherwise."""
    form = LayoutForm()
    layout = Layout(account=current_user.account_id)
    if form.validate_on_submit() and _check(form, layout):
        form.populate_obj(layout)
        layout.save()
        flash(_("The layout “%(name)s” is created.", name=layout.name), "success")
        return redirect_to(url_for("campaigns.layout", layout_id=layout.id))
    return _index(form, 422)


@bp.route("/layouts/<int:layout_id>", methods=["GET", "POST"])
def layout(layout_id):
    """See and change a layout (htmx: the form answers itself)."""
    layout = owned_or_404(Layout, layout_id)
    form = LayoutForm(obj=layout)
    if request.method == "GET":
        return _page(layout, form)
    if form.validate_on_submit() and _check(form, layout):
        form.populate_obj(layout)
        layout.updated_at = utcnow()
        layout.save()
        flash(_("The layout “%(name)s” is saved.", name=layout.name), "success")
        if not request.htmx:
            return redirect_to(url_for("campaigns.layout", layout_id=layout.id))
    return _page(layout, form, 422 if form.errors else 200)


@bp.route("/layouts/<int:layout_id>/delete", methods=["POST"])
def delete_layout(layout_id):
    """Delete a layout no campaign uses (a sent campaign's web version still needs its layout)."""
    layout = owned_or_404(Layout, layout_id)
    used_by = _campaigns_using(layout)
    if used_by:
        flash(ngettext("The layout “%(name)s” is used by %(num)d campaign and cannot be deleted.",
                       "The layout “%(name)s” is used by %(num)d campaigns and cannot be deleted.", used_by,
                       name=layout.name), "error")
        return _page(layout, LayoutForm(obj=layout), 422)
    layout.delete_instance()
    flash(_("The layout “%(name)s” is deleted.", name=layout.name), "success")
    return redirect_to(url_for("campaigns.layouts"))
