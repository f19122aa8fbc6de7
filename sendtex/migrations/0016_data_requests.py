"""The data-subject request log."""
from peewee import *


def up(migrator, db):
    class DataRequest(Model):
        kind = CharField(max_length=20)
        requester_name = CharField(max_length=200)
        requester_email = CharField(max_length=254, default='')
        channel = CharField(max_length=10, default='email')
        identity_proof = TextField(default='')
        details = TextField(default='')
        received_on = DateField()
        due_on = DateField(index=True)
        closed_at = DateTimeField(null=True, index=True)
        outcome = TextField(default='')
        actions = TextField(default='')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'data_request'
    db.create_tables([DataRequest])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('data_request'))
