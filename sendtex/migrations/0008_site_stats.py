"""Anonymous website statistics: raw page hits and per-page, per-hour counters."""
from peewee import *


def up(migrator, db):
    class PageHit(Model):
        page = CharField(max_length=200)
        day = DateField()
        hour = SmallIntegerField()
        class Meta:
            database = db
            table_name = 'page_hit'
    db.create_tables([PageHit])

    class PageCount(Model):
        page = CharField(max_length=200)
        day = DateField()
        hour = SmallIntegerField()
        visits = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'page_count'
            indexes = ((('day', 'hour', 'page'), True),)
    db.create_tables([PageCount])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('page_count'))
    migrator.migrate(migrator.drop_table('page_hit'))
