"""Account deletion and restriction, deletion records, account data exports."""
from peewee import *


def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    migrator.migrate(migrator.add_column('account', 'deletion_requested_at', DateTimeField(null=True)))
    migrator.migrate(migrator.add_column('account', 'restricted_at', DateTimeField(null=True)))
    migrator.migrate(migrator.add_column('account', 'restricted_by', CharField(max_length=10, default='')))
    migrator.migrate(migrator.add_column('account', 'restriction_reason', TextField(default='')))

    class DeletionRecord(Model):
        uid = CharField(max_length=32, unique=True)
        requested_at = DateTimeField()
        finished_at = DateTimeField(null=True, index=True)
        counts_json = TextField(default='{}')
        account_id = IntegerField(null=True)
        class Meta:
            database = db
            table_name = 'deletion_record'

    class AccountExport(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        user = ForeignKeyField(User, on_delete='CASCADE')
        status = CharField(max_length=10, default='queued')
        file_name = CharField(max_length=100, default='')
        size = IntegerField(default=0)
        error = TextField(default='')
        created_at = DateTimeField()
        finished_at = DateTimeField(null=True)
        expires_at = DateTimeField(null=True, index=True)
        class Meta:
            database = db
            table_name = 'account_export'
    db.create_tables([DeletionRecord, AccountExport])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('account_export'))
    migrator.migrate(migrator.drop_table('deletion_record'))
    for column in ('restriction_reason', 'restricted_by', 'restricted_at', 'deletion_requested_at'):
        migrator.migrate(migrator.drop_column('account', column))
