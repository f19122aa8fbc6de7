"""Public signup: signup forms, signups waiting for confirmation, proof of consent."""
from peewee import *


def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Contact(Model):
        class Meta:
            database = db
            table_name = 'contact'

    class SignupForm(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        public_id = CharField(unique=True, max_length=32)
        name = CharField(max_length=200)
        list_ids = TextField(default=list)
        asked = TextField(default=list)
        consent_text = TextField()
        consent_version = IntegerField(default=1)
        thank_you_text = TextField(default='')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'signup_form'
    db.create_tables([SignupForm])

    class Signup(Model):
        contact = ForeignKeyField(Contact, on_delete='CASCADE')
        form = ForeignKeyField(SignupForm, null=True, on_delete='SET NULL')
        pending = TextField(default=dict)
        created_contact = BooleanField(default=False)
        language = CharField(max_length=5, default='en')
        created_at = DateTimeField(index=True)
        mailed_at = DateTimeField(null=True)
        mail_error = CharField(max_length=500, default='')
        confirmed_at = DateTimeField(null=True)
        expired_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'signup'
    db.create_tables([Signup])

    class ConsentProof(Model):
        contact = ForeignKeyField(Contact, on_delete='CASCADE')
        signup = ForeignKeyField(Signup, null=True, on_delete='SET NULL')
        event = CharField(max_length=12)
        at = DateTimeField()
        ip_anon = CharField(max_length=64, default='')
        user_agent = CharField(max_length=300, default='')
        form = ForeignKeyField(SignupForm, null=True, on_delete='SET NULL')
        form_name = CharField(max_length=200, default='')
        page_url = CharField(max_length=500, default='')
        consent_text = TextField(default='')
        consent_version = IntegerField(default=0)
        lists = TextField(default=list)
        class Meta:
            database = db
            table_name = 'consent_proof'
            indexes = ((('contact', 'at'), False),)
    db.create_tables([ConsentProof])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('consent_proof'))
    migrator.migrate(migrator.drop_table('signup'))
    migrator.migrate(migrator.drop_table('signup_form'))
