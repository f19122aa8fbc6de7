"""The whole subscriber journey through a real SMTP server on loopback: signup, confirmation mail, confirmation,
a campaign, an open and a click, the report's counts, a one-click unsubscribe, and the next campaign without her."""
import email
import re
from email import policy

from sendtex import sending
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery, SendingDomain
from sendtex.models.contacts import MailingList, Subscription
from sendtex.models.relays import Relay
from sendtex.models.stats import CampaignStats
from sendtex.models.subscribe import ConsentProof, SignupForm
from sendtex.tasks.stats import aggregate
from tests.conftest import make_account, make_app, post

READER = "rita@example.org"


def received(smtp_server, count):
    smtp_server.wait_for(count)
    return [email.message_from_bytes(envelope.content, policy=policy.default) for envelope in smtp_server.messages]


def path_of(url):
    return re.sub(r"^https?://[^/]+", "", url)


def new_campaign(account, news, name):
    return Campaign.create(account=account, name=name, subject=f"{name} for {{{{ contact.first_name }}}}",
                           from_name="Bakery", from_email="news@bakery.example", list_ids=[news.id],
                           html='<html><body><p>Hi {{ contact.first_name }}</p>'
                                '<p><a href="https://bakery.example/bread">Bread</a></p></body></html>')


def test_signup_to_unsubscribe_through_a_real_relay(tmp_path, smtp_server):
    app = make_app(tmp_path, BASE_URL="https://mail.sendtex.example")
    client = app.test_client()
    account = make_account("Bakery", daily_quota=1000)
    news = MailingList.create(account=account, name="Fresh bread", opt_in="double", visibility="public")
    signup_form = SignupForm.create(account=account, name="Bread news", consent_text="Yes, mail me about bread.",
                                    list_ids=[news.id], asked=[{"key": "first_name", "required": True}])
    SendingDomain.create(account=account, domain="bakery.example", verified_at=utcnow())
    Relay.create(name="loopback", host="127.0.0.1", port=smtp_server.port, security="plain", region="eu",
                 max_per_second=0)

    # Signup: the confirmation mail goes out through the relay.
    response = client.post(f"/subscribe/{signup_form.public_id}", data={"email": READER, "first_name": "Rita"},
                           environ_base={"REMOTE_ADDR": "198.51.100.7"}, headers={"User-Agent": "Mozilla/5.0"})
    assert response.status_code == 200
    (confirmation,) = received(smtp_server, 1)
    assert confirmation["To"] == READER
    link = re.search(r"https://\S+/subscribe/confirm/\S+", confirmation.get_body(("plain",)).get_content()).group()
    assert client.get(path_of(link)).status_code == 200 and Subscription.get().status == "unconfirmed"
    assert post(client, path_of(link)).status_code == 200
    assert Subscription.get().status == "subscribed"
    assert [proof.event for proof in ConsentProof.select().order_by(ConsentProof.id)] == ["signup", "confirmation"]

    # A campaign reaches her; she opens it and clicks.
    first = new_campaign(account, news, "Sourdough week")
    with app.app_context():
        sending.start(first)
    message = received(smtp_server, 2)[1]
    assert message["Subject"] == "Sourdough week for Rita"
    html = message.get_body(("html",)).get_content()
    assert client.get(path_of(re.search(r'src="([^"]+/t/o/[^"]+)"', html).group(1))).status_code == 200
    click = client.get(path_of(re.search(r'href="([^"]+/t/c/[^"]+)"', html).group(1)))
    assert click.status_code == 302 and click.headers["Location"] == "https://bakery.example/bread"
    with app.app_context():
        aggregate()
    stats = CampaignStats.get(CampaignStats.campaign == first.id)
    assert (stats.sent, stats.unique_opens, stats.unique_clicks, stats.unsubscribes) == (1, 1, 1, 0)

    # One-click unsubscribe from the List-Unsubscribe header (RFC 8058), then the next campaign goes to nobody.
    unsubscribe = re.search(r"<(https://[^>]+)>", message["List-Unsubscribe"]).group(1)
    response = client.post(path_of(unsubscribe), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and Subscription.get().status == "unsubscribed"
    with app.app_context():
        aggregate()
    assert CampaignStats.get(CampaignStats.campaign == first.id).unsubscribes == 1
    second = new_campaign(account, news, "Rye week")
    with app.app_context():
        assert sending.audience(second).count() == 0
        assert sending.preflight(second)  # nobody to send to: it refuses to start
    assert not Delivery.select().where(Delivery.campaign == second.id).exists()
    assert len(smtp_server.messages) == 2
