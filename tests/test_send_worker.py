"""A real Huey consumer sends a campaign over two lanes (two worker processes, two connections) into a real
SMTP server; killed with SIGKILL mid-campaign and restarted, it completes: nobody skipped, duplicates
bounded by the messages in flight at the kill (one a lane)."""
import collections
import os

import pytest

from sendtex.db import db
from sendtex.models.campaigns import Campaign, Delivery
from tests.conftest import make_app
from tests.test_sending import Relaying, make_campaign, serving
from tests.workers import kill_mid_work_then_finish

RECIPIENTS = 1500


LANES = 2


class SlowRelay(Relaying):
    """Takes a few milliseconds a message, so the kill lands mid-campaign; notes how many it takes at once."""

    def __init__(self):
        super().__init__()
        self.receiving = self.most_at_once = 0

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        self.receiving += 1
        self.most_at_once = max(self.most_at_once, self.receiving)
        try:
            await asyncio.sleep(0.003)
            return await super().handle_DATA(server, session, envelope)
        finally:
            self.receiving -= 1


@pytest.fixture
def slow_relay():
    with serving(SlowRelay()) as handler:
        yield handler


def test_campaign_completes_after_the_worker_is_killed(tmp_path, slow_relay):
    app = make_app(tmp_path, HUEY_IMMEDIATE=False, JOB_LEASE_SECONDS=2, SEND_BATCH_SIZE=50, SEND_LANES=LANES)
    campaign = make_campaign(app, [f"p{n}@example.com" for n in range(RECIPIENTS)], slow_relay.port)
    with app.app_context():
        from sendtex import sending

        sending.start(campaign)
    db.close()

    def killed_mid_campaign():
        assert len(slow_relay.messages) < RECIPIENTS, "the kill did not land mid-campaign"
        assert slow_relay.most_at_once == LANES, "the lanes did not send at the same time"

    kill_mid_work_then_finish(app.instance_path, tmp_path / "worker.log",
                              started=lambda: len(slow_relay.messages) >= 200, check_killed=killed_mid_campaign,
                              finished=lambda: Campaign.get_by_id(campaign.id).status in ("sent", "paused", "failed"),
                              workers=LANES)

    with db.connection_context():
        done = Campaign.get_by_id(campaign.id)
        assert done.status == "sent", (tmp_path / "worker.log").read_text()[-3000:]
        statuses = collections.Counter(d.status for d in Delivery.select().where(Delivery.campaign == campaign.id))
        assert statuses == {"sent": RECIPIENTS} and done.sent == RECIPIENTS
    received = collections.Counter(m.rcpt_tos[0] for m in slow_relay.messages)
    assert len(received) == RECIPIENTS  # nobody skipped
    duplicates = sum(received.values()) - RECIPIENTS
    if duplicates > LANES:  # say which, with their ledger rows, to tell a lease taken over from a retry
        twice = {address for address, count in received.items() if count > 1}
        print([(d.contact.email, d.attempts, d.error, d.sent_at) for d in Delivery.select() if d.contact.email in twice])
        print((tmp_path / "worker.log").read_text()[-5000:])
    assert duplicates <= LANES, f"{duplicates} duplicates: more than the messages in flight at the kill (one a lane)"
    assert os.listdir(os.path.join(app.instance_path, "sent-marks")) == []  # the killed lanes' marks were settled
