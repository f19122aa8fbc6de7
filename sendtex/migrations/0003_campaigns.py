"""Campaigns, layouts, sending domains, the delivery ledger, links, events, relays; sending settings on accounts."""
from peewee import *


def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Contact(Model):
        class Meta:
            database = db
            table_name = 'contact'

    class Segment(Model):
        class Meta:
            database = db
            table_name = 'segment'

    class Layout(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        name = CharField(max_length=200)
        html = TextField(default='')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'layout'
    db.create_tables([Layout])

    class Campaign(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        name = CharField(max_length=200)
        subject = CharField(max_length=998, default='')
        preheader = CharField(max_length=300, default='')
        from_name = CharField(max_length=200, default='')
        from_email = CharField(max_length=254, default='')
        reply_to = CharField(max_length=254, default='')
        list_ids = TextField(default=list)
        segment = ForeignKeyField(Segment, null=True, on_delete='SET NULL')
        layout = ForeignKeyField(Layout, null=True, on_delete='SET NULL')
        html = TextField(default='')
        text = TextField(default='')
        text_by_hand = BooleanField(default=False)
        track_opens = BooleanField(default=True)
        track_clicks = BooleanField(default=True)
        status = CharField(max_length=10, default='draft')
        status_reason = TextField(default='')
        scheduled_at = DateTimeField(null=True)
        timezone = CharField(max_length=64, default='UTC')
        started_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)
        lease_until = DateTimeField(null=True)
        total = IntegerField(default=0)
        sent = IntegerField(default=0)
        failed = IntegerField(default=0)
        skipped = IntegerField(default=0)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'campaign'
    db.create_tables([Campaign])

    class Delivery(Model):
        campaign = ForeignKeyField(Campaign, on_delete='CASCADE')
        contact = ForeignKeyField(Contact, null=True, on_delete='SET NULL')
        status = CharField(max_length=8, default='queued')
        attempts = IntegerField(default=0)
        claim = CharField(null=True, max_length=32)
        lease_until = DateTimeField(null=True)
        next_attempt_at = DateTimeField(null=True)
        sent_at = DateTimeField(null=True)
        error = CharField(max_length=500, default='')
        class Meta:
            database = db
            table_name = 'delivery'
            indexes = ((('campaign', 'contact'), True), (('campaign', 'status', 'next_attempt_at'), False))
    db.create_tables([Delivery])

    class Link(Model):
        campaign = ForeignKeyField(Campaign, on_delete='CASCADE')
        url = TextField()
        position = IntegerField()
        class Meta:
            database = db
            table_name = 'link'
            indexes = ((('campaign', 'position'), True),)
    db.create_tables([Link])

    class Event(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        campaign = ForeignKeyField(Campaign, on_delete='CASCADE')
        delivery = ForeignKeyField(Delivery, null=True, on_delete='SET NULL')
        kind = CharField(max_length=12)
        link = ForeignKeyField(Link, null=True, on_delete='SET NULL')
        at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'event'
            indexes = ((('campaign', 'kind'), False),)
    db.create_tables([Event])

    class Relay(Model):
        uid = CharField(unique=True, max_length=32)
        name = CharField(unique=True, max_length=100)
        host = CharField(max_length=253)
        port = IntegerField(default=587)
        security = CharField(max_length=10, default='starttls')
        username = CharField(max_length=200, default='')
        password_sealed = TextField(default='')
        max_connections = IntegerField(default=4)
        max_per_second = IntegerField(default=50)
        region = CharField(max_length=4, default='eu')
        enabled = BooleanField(default=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'relay'
    db.create_tables([Relay])

    class SendingDomain(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        domain = CharField(max_length=253)
        verified_at = DateTimeField(null=True)
        dkim_selector = CharField(max_length=63, default='sendtex')
        dkim_private_key = TextField(default='')
        dkim_public_key = TextField(default='')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'sending_domain'
            indexes = ((('account', 'domain'), True),)
    db.create_tables([SendingDomain])

    migrator.migrate(migrator.add_column('account', 'eu_only_sending', BooleanField(default=False)))
    migrator.migrate(migrator.add_column('account', 'daily_quota', IntegerField(default=500)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('account', 'daily_quota'))
    migrator.migrate(migrator.drop_column('account', 'eu_only_sending'))
    migrator.migrate(migrator.drop_table('sending_domain'))
    migrator.migrate(migrator.drop_table('relay'))
    migrator.migrate(migrator.drop_table('event'))
    migrator.migrate(migrator.drop_table('link'))
    migrator.migrate(migrator.drop_table('delivery'))
    migrator.migrate(migrator.drop_table('campaign'))
    migrator.migrate(migrator.drop_table('layout'))
