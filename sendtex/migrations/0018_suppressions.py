"""Suppressions: the keyed digests of addresses whose subscribers asked to be erased, per account."""
from peewee import *


def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Suppression(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE', index=False)
        email_digest = CharField(max_length=32)
        reason = CharField(max_length=20, default='erased')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'suppression'
            indexes = ((('account', 'email_digest'), True),)
    db.create_tables([Suppression])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('suppression'))
