"""Statistics: campaign, hourly, per-link and per-day counters, unique-count markers, the aggregation's mark."""
from peewee import *


def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Campaign(Model):
        class Meta:
            database = db
            table_name = 'campaign'

    class Delivery(Model):
        class Meta:
            database = db
            table_name = 'delivery'

    class Link(Model):
        class Meta:
            database = db
            table_name = 'link'

    class StatsRun(Model):
        name = CharField(max_length=20, unique=True)
        last_event_id = BigIntegerField(default=0)
        lease_until = DateTimeField(null=True)
        ran_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'stats_run'
    db.create_tables([StatsRun])

    class CampaignStats(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        campaign = ForeignKeyField(Campaign, unique=True, on_delete='CASCADE')
        sent = IntegerField(default=0)
        failed = IntegerField(default=0)
        opens = IntegerField(default=0)
        unique_opens = IntegerField(default=0)
        clicks = IntegerField(default=0)
        unique_clicks = IntegerField(default=0)
        unsubscribes = IntegerField(default=0)
        bounces = IntegerField(default=0)
        soft_bounces = IntegerField(default=0)
        complaints = IntegerField(default=0)
        uniques_known = BooleanField(default=True)
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'campaign_stats'
    db.create_tables([CampaignStats])

    class CampaignHourStats(Model):
        campaign = ForeignKeyField(Campaign, on_delete='CASCADE', index=False)
        hour = IntegerField()
        opens = IntegerField(default=0)
        clicks = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'campaign_hour_stats'
            indexes = ((('campaign', 'hour'), True),)
    db.create_tables([CampaignHourStats])

    class LinkStats(Model):
        link = ForeignKeyField(Link, unique=True, on_delete='CASCADE')
        campaign = ForeignKeyField(Campaign, on_delete='CASCADE')
        clicks = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'link_stats'
    db.create_tables([LinkStats])

    class AccountDayStats(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE', index=False)
        day = DateField()
        sent = IntegerField(default=0)
        opens = IntegerField(default=0)
        clicks = IntegerField(default=0)
        unsubscribes = IntegerField(default=0)
        bounces = IntegerField(default=0)
        complaints = IntegerField(default=0)
        subscribed = IntegerField(default=0)
        unsubscribed = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'account_day_stats'
            indexes = ((('account', 'day'), True),)
    db.create_tables([AccountDayStats])

    class EngagedDelivery(Model):
        delivery = ForeignKeyField(Delivery, on_delete='CASCADE', index=False)
        kind = CharField(max_length=12)
        class Meta:
            database = db
            table_name = 'engaged_delivery'
            indexes = ((('delivery', 'kind'), True),)
    db.create_tables([EngagedDelivery])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('engaged_delivery'))
    migrator.migrate(migrator.drop_table('account_day_stats'))
    migrator.migrate(migrator.drop_table('link_stats'))
    migrator.migrate(migrator.drop_table('campaign_hour_stats'))
    migrator.migrate(migrator.drop_table('campaign_stats'))
    migrator.migrate(migrator.drop_table('stats_run'))
