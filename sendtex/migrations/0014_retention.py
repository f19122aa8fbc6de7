"""Runs of the retention purge."""
from peewee import *


def up(migrator, db):
    class RetentionRun(Model):
        started_at = DateTimeField(index=True)
        finished_at = DateTimeField(null=True)
        deleted_json = TextField(default='{}')
        failed_json = TextField(default='{}')
        class Meta:
            database = db
            table_name = 'retention_run'
    db.create_tables([RetentionRun])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('retention_run'))
