"""All models, one module per area; MODELS lists every table in dependency order."""
from sendtex.models.accounts import Account, Invitation, User
from sendtex.models.audit import AuditEntry
from sendtex.models.campaigns import Campaign, Delivery, Event, Layout, Link, SendingDomain
from sendtex.models.contacts import Contact, Field, MailingList, Segment, Subscription
from sendtex.models.imports import Import, ImportRejection
from sendtex.models.jobs import Job
from sendtex.models.mail import OutboxMessage
from sendtex.models.privacy import AccountExport, ConsentRecord, DeletionRecord
from sendtex.models.ratelimit import RateHit
from sendtex.models.relays import Relay

MODELS = [
    Account, User, Invitation, RateHit, OutboxMessage, ConsentRecord,
    MailingList, Field, Contact, Subscription, Segment, Job, Import, ImportRejection,
    Layout, SendingDomain, Campaign, Delivery, Link, Event, Relay, AuditEntry, DeletionRecord, AccountExport,
]
