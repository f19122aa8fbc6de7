"""Bounces and complaints of deliveries; the bounce mailbox's read cursor."""
from peewee import *


def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Campaign(Model):
        class Meta:
            database = db
            table_name = 'campaign'

    class Delivery(Model):
        class Meta:
            database = db
            table_name = 'delivery'

    class Contact(Model):
        class Meta:
            database = db
            table_name = 'contact'

    class Bounce(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        campaign = ForeignKeyField(Campaign, on_delete='CASCADE')
        delivery = ForeignKeyField(Delivery, null=True, on_delete='SET NULL')
        contact = ForeignKeyField(Contact, null=True, on_delete='SET NULL')
        kind = CharField(max_length=9)
        status = CharField(max_length=12, default='')
        diagnostic = CharField(max_length=200, default='')
        source = CharField(max_length=7)
        received_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'bounce'
            indexes = ((('delivery', 'kind'), True), (('campaign', 'received_at'), False),
                       (('contact', 'kind', 'received_at'), False))
    db.create_tables([Bounce])

    class MailboxCursor(Model):
        mailbox = CharField(unique=True, max_length=500)
        uidvalidity = BigIntegerField(default=0)
        last_uid = BigIntegerField(default=0)
        polled_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'mailbox_cursor'
    db.create_tables([MailboxCursor])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('mailbox_cursor'))
    migrator.migrate(migrator.drop_table('bounce'))
