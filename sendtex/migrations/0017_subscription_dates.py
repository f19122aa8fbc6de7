"""Indexes on when subscriptions began and ended, for the statistics' daily recount."""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_index('subscription', ('created_at',), False))
    migrator.migrate(migrator.add_index('subscription', ('unsubscribed_at',), False))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('subscription', 'subscription_unsubscribed_at'))
    migrator.migrate(migrator.drop_index('subscription', 'subscription_created_at'))
