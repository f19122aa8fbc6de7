"""Account settings: tracking switches, individual tracking, soft-bounce rule."""
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.add_column('account', 'track_opens', BooleanField(default=True)))
    migrator.migrate(migrator.add_column('account', 'track_clicks', BooleanField(default=True)))
    migrator.migrate(migrator.add_column('account', 'individual_tracking', BooleanField(default=True)))
    migrator.migrate(migrator.add_column('account', 'soft_bounce_limit', IntegerField(default=3)))
    migrator.migrate(migrator.add_column('account', 'soft_bounce_days', IntegerField(default=7)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('account', 'soft_bounce_days'))
    migrator.migrate(migrator.drop_column('account', 'soft_bounce_limit'))
    migrator.migrate(migrator.drop_column('account', 'individual_tracking'))
    migrator.migrate(migrator.drop_column('account', 'track_clicks'))
    migrator.migrate(migrator.drop_column('account', 'track_opens'))
