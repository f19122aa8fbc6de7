"""The operator's website forms: contact-form messages, vacancies and job applications."""
from peewee import *


def up(migrator, db):
    class ContactMessage(Model):
        received_at = DateTimeField(index=True)
        last_name = CharField(max_length=100)
        first_name = CharField(max_length=100)
        email = CharField(max_length=254)
        phone = CharField(max_length=40, default='')
        message = TextField()
        language = CharField(max_length=5, default='en')
        answered_at = DateTimeField(null=True)
        notified_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'contact_message'

    class JobPosition(Model):
        title = CharField(max_length=200)
        description = TextField()
        location = CharField(max_length=200, default='')
        is_open = BooleanField(default=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'job_position'

    class JobApplication(Model):
        position = ForeignKeyField(JobPosition, on_delete='CASCADE')
        received_at = DateTimeField(index=True)
        last_name = CharField(max_length=100)
        first_name = CharField(max_length=100)
        email = CharField(max_length=254)
        phone = CharField(max_length=40, default='')
        address = TextField(default='')
        education = TextField()
        employment = TextField()
        household = TextField(default='')
        interests = TextField(default='')
        consent_text = TextField()
        language = CharField(max_length=5, default='en')
        status = CharField(max_length=12, default='received')
        notes = TextField(default='')
        closed_at = DateTimeField(null=True, index=True)
        class Meta:
            database = db
            table_name = 'job_application'
    db.create_tables([ContactMessage, JobPosition, JobApplication])


def down(migrator, db):
    for table in ('job_application', 'job_position', 'contact_message'):
        migrator.migrate(migrator.drop_table(table))
