"""Preference centre: which contact fields subscribers may change themselves."""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column('field', 'subscriber_editable', BooleanField(default=False)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('field', 'subscriber_editable'))
