"""All models, one module per area; MODELS lists every table in dependency order."""
from sendtex.models.accounts import Account, Invitation, User
from sendtex.models.api import ApiKey, IdempotencyRecord
from sendtex.models.audit import AuditEntry
from sendtex.models.bounces import Bounce, MailboxCursor
from sendtex.models.campaigns import Campaign, Delivery, Event, Layout, Link, SendingDomain
from sendtex.models.contacts import Contact, Field, MailingList, Segment, Subscription, Suppression
from sendtex.models.imports import Import, ImportRejection
from sendtex.models.jobs import Job
from sendtex.models.mail import OutboxMessage
from sendtex.models.privacy import AccountExport, ConsentRecord, DeletionRecord
from sendtex.models.ratelimit import RateHit
from sendtex.models.relays import Relay
from sendtex.models.requests import DataRequest
from sendtex.models.retention import RetentionRun
from sendtex.models.sitestats import PageCount, PageHit
from sendtex.models.stats import AccountDayStats, CampaignHourStats, CampaignStats, EngagedDelivery, LinkStats, StatsRun
from sendtex.models.subscribe import ConsentProof, Signup, SignupForm
from sendtex.models.website import ContactMessage, JobApplication, JobPosition

MODELS = [
    Account, User, Invitation, RateHit, OutboxMessage, ConsentRecord,
    MailingList, Field, Contact, Subscription, Suppression, Segment, Job, Import, ImportRejection,
    Layout, SendingDomain, Campaign, Delivery, Link, Event, Relay, AuditEntry, DeletionRecord, AccountExport,
    RetentionRun, DataRequest,
    PageHit, PageCount,
    SignupForm, Signup, ConsentProof,
    StatsRun, CampaignStats, CampaignHourStats, LinkStats, AccountDayStats, EngagedDelivery,
    ApiKey, IdempotencyRecord,
    Bounce, MailboxCursor,
    ContactMessage, JobPosition, JobApplication,
]
