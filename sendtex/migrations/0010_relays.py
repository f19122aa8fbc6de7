"""Relays: a relay that could not be reached is skipped until its cool-down ends."""
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.add_column('relay', 'unavailable_until', DateTimeField(null=True)))
    migrator.migrate(migrator.add_column('relay', 'unavailable_reason', CharField(max_length=500, default='')))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('relay', 'unavailable_reason'))
    migrator.migrate(migrator.drop_column('relay', 'unavailable_until'))
