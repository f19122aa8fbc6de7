"""The audit log."""
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

    class AuditEntry(Model):
        at = DateTimeField(index=True)
        account = ForeignKeyField(Account, null=True, on_delete='CASCADE')
        actor = ForeignKeyField(User, null=True, on_delete='SET NULL')
        actor_label = CharField(max_length=254, default='')
        by_staff = BooleanField(default=False)
        action = CharField(max_length=40)
        target = CharField(max_length=200, default='')
        reason = TextField(default='')
        ip_anon = CharField(max_length=64, default='')
        class Meta:
            database = db
            table_name = 'audit_entry'
            indexes = ((('account', 'at'), False),)
    db.create_tables([AuditEntry])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('audit_entry'))
