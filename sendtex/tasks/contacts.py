"""Bulk actions on contacts: add to or remove from a list, unsubscribe, blocklist, delete.

Small selections run in the request. Larger ones and "all contacts matching a filter" run as a Job in
chunks; each chunk is committed together with the job's position (the last contact id done), so a job
restarted after a crash continues after it, and doing a chunk twice changes nothing.
"""
from flask import current_app
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _

from sendtex import audience
from sendtex.db import db
from sendtex.lists.filters import ContactFilter
from sendtex.models.base import utcnow
from sendtex.models.contacts import Contact, MailingList, Subscription
from sendtex.models.jobs import Job
from sendtex.tasks.jobs import Stopped, job_handler, step

KIND = "bulk_contacts"
CHUNK = 1000
ACTIONS = ("add", "remove", "unsubscribe", "blocklist", "delete")
LIST_ACTIONS = ("add", "remove")


def apply(account_id, action, contact_ids, list_id=None):
    """Do a bulk action on those of the ids that are the account's contacts; how many they were."""
    owned = Contact.select(Contact.id).where((Contact.account == account_id) & Contact.id.in_(list(contact_ids)))
    ids = [row[0] for row in owned.tuples()]
    if not ids:
        return 0
    now = utcnow()
    if action == "add":
        # Existing memberships keep their status: someone who unsubscribed from the list stays unsubscribed.
        rows = [dict(contact=contact_id, mailing_list=list_id, status="subscribed", created_at=now, updated_at=now,
                     confirmed_at=now) for contact_id in ids]
        Subscription.insert_many(rows).on_conflict_ignore().execute()
    elif action == "remove":
        Subscription.delete().where(Subscription.contact.in_(ids) & (Subscription.mailing_list == list_id)).execute()
    elif action == "unsubscribe":
        audience.unsubscribe_everywhere(ids, now)
    elif action == "blocklist":
        Contact.update(status="blocklisted", updated_at=now).where(Contact.id.in_(ids)).execute()
    elif action == "delete":
        Contact.delete().where(Contact.id.in_(ids)).execute()
    else:
        raise ValueError(f"unknown bulk action {action!r}")
    return len(ids)


def done_message(action, count, lst=None):
    """What a finished bulk action did, in words."""
    name = lst.name if lst else ""
    messages = {
        "add": lambda: ngettext("%(num)d contact is on “%(name)s” now.", "%(num)d contacts are on “%(name)s” now.",
                                count, name=name),
        "remove": lambda: ngettext("%(num)d contact is off “%(name)s” now.", "%(num)d contacts are off “%(name)s” now.",
                                   count, name=name),
        "unsubscribe": lambda: ngettext("%(num)d contact is unsubscribed from everything.",
                                        "%(num)d contacts are unsubscribed from everything.", count),
        "blocklist": lambda: ngettext("%(num)d contact is blocklisted.", "%(num)d contacts are blocklisted.", count),
        "delete": lambda: ngettext("%(num)d contact is deleted.", "%(num)d contacts are deleted.", count),
    }
    return messages[action]()


def describe(job):
    """What the progress of a bulk job shows: the job, its list, and when done what it did."""
    list_id = job.params.get("list_id")
    lst = MailingList.for_account(job.account_id).where(MailingList.id == list_id).first() if list_id else None
    affected = (job.result or {}).get("affected", 0)
    message = done_message(job.params["action"], affected, lst) if job.status == "done" else ""
    return dict(job=job, lst=lst, message=message)


def job_params(action, list_id, contact_ids=None, contact_filter=None, max_id=None):
    """Parameters of a bulk job: the action, a list id, and either contact ids or a filter (ids and settings)."""
    params = {"action": action, "list_id": list_id, "language": str(get_locale())}  # for messages of the job
    if contact_ids is not None:
        params["contact_ids"] = sorted(set(contact_ids))
    else:
        params.update(filter=contact_filter.job_params(), max_id=max_id)
    return params


@job_handler(KIND)
def run_bulk_action(job):
    """Do a bulk action chunk by chunk, continuing after the last chunk a previous run committed."""
    params = job.params
    with force_locale(params.get("language") or current_app.config["DEFAULT_LANGUAGE"]):
        _check_targets(job)
    if not job.total:
        job.total = _total(job)
    result = dict(job.result or {})
    while ids := _next_ids(job, result.get("last_id", 0)):
        done = job.done + len(ids)
        with db.atomic():
            affected = apply(job.account_id, params["action"], ids, params.get("list_id"))
            result = {"last_id": ids[-1], "affected": result.get("affected", 0) + affected}
            Job.update(result=result, done=done).where(Job.id == job.id).execute()
        step(job, done)
    step(job, job.total)


def _check_targets(job):
    params = job.params
    if params["action"] in LIST_ACTIONS and not MailingList.for_account(job.account_id).where(
            MailingList.id == params["list_id"]).exists():
        raise Stopped(_("The list was deleted before the work was done."))
    if "filter" in params:
        contact_filter = ContactFilter.from_job_params(job.account_id, params["filter"])
        if contact_filter.segment_id is not None and contact_filter.segment() is None:
            raise Stopped(_("The segment was deleted before the work was done."))


def _total(job):
    params = job.params
    if "contact_ids" in params:
        return len(params["contact_ids"])
    return ContactFilter.from_job_params(job.account_id, params["filter"]).count(params["max_id"])


def _next_ids(job, last_id):
    params = job.params
    if "contact_ids" in params:
        return [contact_id for contact_id in params["contact_ids"] if contact_id > last_id][:CHUNK]
    contact_filter = ContactFilter.from_job_params(job.account_id, params["filter"])
    return contact_filter.ids_after(last_id, params["max_id"], CHUNK)
