"""API keys and the remembered responses of idempotent API requests."""
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

    class ApiKey(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        name = CharField(max_length=100)
        public_id = CharField(max_length=12, unique=True)
        secret_digest = CharField(max_length=64)
        scopes = TextField()
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        expires_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)
        last_used_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'api_key'

    class IdempotencyRecord(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        api_key = ForeignKeyField(ApiKey, on_delete='CASCADE')
        key = CharField(max_length=255)
        fingerprint = CharField(max_length=64)
        status = IntegerField(null=True)
        body = TextField(default='')
        created_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'idempotency_record'
            indexes = ((('api_key', 'key'), True),)
    db.create_tables([ApiKey, IdempotencyRecord])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('idempotency_record'))
    migrator.migrate(migrator.drop_table('api_key'))
