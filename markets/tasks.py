"""Beat entry points for the catalog: thin wrappers around markets.services."""
from celery import shared_task

from markets.services import market_snapshots_refresh


@shared_task(name="markets.snapshots_refresh", ignore_result=True)
def snapshots_refresh():
    return market_snapshots_refresh()
