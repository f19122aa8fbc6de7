"""Lists, contacts, subscriptions, fields, segments, background jobs and imports."""
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

    class Contact(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        uid = CharField(unique=True, max_length=32)
        email = CharField(null=True, max_length=254)
        email_digest = CharField(max_length=32)
        first_name = CharField(null=True, max_length=200)
        last_name = CharField(null=True, max_length=200)
        attributes = TextField(default=dict)
        sealed = TextField(default=dict)
        status = CharField(max_length=12, default='active')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'contact'
            indexes = ((('account', 'email_digest'), True), (('account', 'email'), False), (('account', 'status'), False))
    db.create_tables([Contact])

    class Field(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        key = CharField(max_length=40)
        label = CharField(max_length=100)
        type = CharField(max_length=10, default='text')
        choices = TextField(default=list)
        required = BooleanField(default=False)
        encrypted = BooleanField(default=False)
        builtin = BooleanField(default=False)
        position = IntegerField(default=0)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'field'
            indexes = ((('account', 'key'), True),)
    db.create_tables([Field])

    class Import(Model):
        status = CharField(max_length=10, default='queued')
        total = IntegerField(default=0)
        done = IntegerField(default=0)
        error = TextField(default='')
        cancel_requested = BooleanField(default=False)
        lease_until = DateTimeField(null=True)
        created_at = DateTimeField()
        started_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)
        account = ForeignKeyField(Account, on_delete='CASCADE')
        user = ForeignKeyField(User, null=True, on_delete='SET NULL')
        original_name = CharField()
        upload_name = CharField(max_length=100)
        encoding = CharField(max_length=20, default='utf-8')
        delimiter = CharField(max_length=2, default=',')
        header = TextField(default=list)
        mapping = TextField(default=dict)
        mode = CharField(max_length=10, default='subscribe')
        list_ids = TextField(default=list)
        confirmed = BooleanField(default=True)
        resume_line = IntegerField(default=0)
        resume_offset = IntegerField(default=0)
        rows_done = IntegerField(default=0)
        inserted = IntegerField(default=0)
        updated = IntegerField(default=0)
        skipped = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'import'
    db.create_tables([Import])

    class ImportRejection(Model):
        import_ = ForeignKeyField(Import, column_name='import_id', on_delete='CASCADE')
        line = IntegerField()
        column = CharField(max_length=200, default='')
        reason = CharField(max_length=300)
        class Meta:
            database = db
            table_name = 'import_rejection'
    db.create_tables([ImportRejection])

    class Job(Model):
        status = CharField(max_length=10, default='queued')
        total = IntegerField(default=0)
        done = IntegerField(default=0)
        error = TextField(default='')
        cancel_requested = BooleanField(default=False)
        lease_until = DateTimeField(null=True)
        created_at = DateTimeField()
        started_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)
        account = ForeignKeyField(Account, on_delete='CASCADE')
        kind = CharField(max_length=30)
        params = TextField(default=dict)
        result = TextField(default=dict)
        class Meta:
            database = db
            table_name = 'job'
    db.create_tables([Job])

    class MailingList(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        name = CharField(max_length=200)
        description = TextField(default='')
        opt_in = CharField(max_length=10, default='double')
        visibility = CharField(max_length=10, default='private')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'mailing_list'
            indexes = ((('account', 'name'), True),)
    db.create_tables([MailingList])

    class Segment(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        name = CharField(max_length=200)
        match = CharField(max_length=3, default='all')
        conditions = TextField(default=list)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'segment'
    db.create_tables([Segment])

    class Subscription(Model):
        contact = ForeignKeyField(Contact, on_delete='CASCADE')
        mailing_list = ForeignKeyField(MailingList, on_delete='CASCADE')
        status = CharField(max_length=12, default='subscribed')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        confirmed_at = DateTimeField(null=True)
        unsubscribed_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'subscription'
            indexes = ((('contact', 'mailing_list'), True), (('mailing_list', 'status', 'contact'), False), (('mailing_list', 'contact'), False))
    db.create_tables([Subscription])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('subscription'))
    migrator.migrate(migrator.drop_table('segment'))
    migrator.migrate(migrator.drop_table('mailing_list'))
    migrator.migrate(migrator.drop_table('job'))
    migrator.migrate(migrator.drop_table('import_rejection'))
    migrator.migrate(migrator.drop_table('import'))
    migrator.migrate(migrator.drop_table('field'))
    migrator.migrate(migrator.drop_table('contact'))
