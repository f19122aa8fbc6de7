"""Sent marks: a delivery a relay took is marked by one small INSERT, folded into the ledger in bulk."""
from peewee import *


def up(migrator, db):
    class Delivery(Model):
        class Meta:
            database = db
            table_name = 'delivery'

    class SentMark(Model):
        delivery = ForeignKeyField(Delivery, primary_key=True, on_delete='CASCADE')
        sent_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'sent_mark'
    db.create_tables([SentMark])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('sent_mark'))
