"""Market.state_at, the time of the current trading state, and one snapshot per market and moment.

Existing duplicates of (market, taken_at) are deleted first, the lowest id kept: the constraint
replaces the plain index on the same columns. Existing markets keep state_at empty: their first
push with a time sets it.
"""
from django.db import migrations, models

DEDUPLICATE = """
DELETE FROM markets_marketsnapshot WHERE id NOT IN (
    SELECT MIN(id) FROM markets_marketsnapshot GROUP BY market_id, taken_at
)
"""


class Migration(migrations.Migration):

    dependencies = [
        ('markets', '0004_trades_24h'),
    ]

    operations = [
        migrations.AddField(
            model_name='market',
            name='state_at',
            field=models.DateTimeField(blank=True, help_text="When the trading state above was true, on the sender's clock; a push older than this is stored as history only (docs/market-state.md). Empty: never pushed with a time.", null=True),
        ),
        migrations.RunSQL(DEDUPLICATE, migrations.RunSQL.noop),
        migrations.RemoveIndex(
            model_name='marketsnapshot',
            name='snapshot_market_time',
        ),
        migrations.AddConstraint(
            model_name='marketsnapshot',
            constraint=models.UniqueConstraint(fields=('market', 'taken_at'), name='snapshot_market_time_unique'),
        ),
    ]
