"""Restricted processing (GDPR art. 18): data stays, but nothing is sent and no import runs."""
import datetime

import pytest

import sendtex.tasks.sending as sending_tasks
from sendtex import sending
from sendtex.models.accounts import Account
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery
from sendtex.models.imports import Import
from sendtex.models.mail import OutboxMessage
from tests.conftest import login
from tests.test_imports import new_import, start
from tests.test_sending import make_campaign

READERS = [f"reader{n}@example.com" for n in range(3)]


def restrict(account_id, by="staff"):
    Account.get_by_id(account_id).restrict(by, "Accuracy disputed")


def test_a_restricted_account_cannot_start_or_schedule_a_campaign(app):
    campaign = make_campaign(app, READERS)
    restrict(campaign.account_id)
    with app.app_context():
        with pytest.raises(sending.CannotStart) as refused:
            sending.start(campaign)
        assert "restricted" in " ".join(map(str, refused.value.reasons))
        with pytest.raises(sending.CannotStart):
            sending.schedule(Campaign.get_by_id(campaign.id), utcnow() + datetime.timedelta(hours=1))
    assert not Delivery.select().exists() and Campaign.get_by_id(campaign.id).status == "draft"


def test_a_due_scheduled_campaign_waits_for_the_restriction_to_be_lifted(app):
    campaign = make_campaign(app, READERS)
    Campaign.update(status="scheduled", scheduled_at=utcnow() - datetime.timedelta(minutes=1)).where(
        Campaign.id == campaign.id).execute()
    restrict(campaign.account_id)
    assert campaign.id not in [due.id for due in sending.due_campaigns()]
    Account.get_by_id(campaign.account_id).lift_restriction()
    assert campaign.id in [due.id for due in sending.due_campaigns()]


def test_a_campaign_sending_when_the_account_is_restricted_pauses_and_says_why(app, monkeypatch):
    campaign = make_campaign(app, READERS)
    monkeypatch.setattr(sending_tasks, "start_lanes", lambda campaign: None)  # the worker has not begun yet
    with app.app_context():
        sending.start(campaign)
        restrict(campaign.account_id)
        sending_tasks.Sender(Campaign.get_by_id(campaign.id)).run()
    paused = Campaign.get_by_id(campaign.id)
    assert paused.status == "paused" and "restricted" in paused.status_reason
    assert not OutboxMessage.select().exists()
    assert Delivery.select().where(Delivery.status == "queued").count() == len(READERS)
    with app.app_context(), pytest.raises(sending.CannotStart):
        sending.resume(paused)


def test_imports_do_not_run_while_restricted(app, client, owner):
    login(client, owner)
    job = new_import(client, "email\nann@example.com\n")
    restrict(owner.account_id, by="owner")
    response = start(client, job, mapping={"0": "email"}, mode="update")
    assert response.status_code == 409 and "restricted" in response.get_data(as_text=True)
    assert Import.get_by_id(job.id).status == "draft"


def test_an_import_queued_before_the_restriction_stops(app, client, owner, monkeypatch):
    import sendtex.lists.imports as import_views

    login(client, owner)
    job = new_import(client, "email\nann@example.com\nbob@example.com\n")
    monkeypatch.setattr(import_views, "run_import", lambda import_id: None)  # queued, not run yet
    assert start(client, job, mapping={"0": "email"}, mode="update").status_code == 303
    restrict(owner.account_id)
    from sendtex.tasks.imports import run_import

    with app.app_context():
        run_import(job.id)
    stopped = Import.get_by_id(job.id)
    assert stopped.status == "failed" and "restricted" in stopped.error and stopped.inserted == 0
