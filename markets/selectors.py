"""Reads of the catalog, tuned here so callers never loop over markets with queries."""
from collections import defaultdict
from dataclasses import dataclass

from markets.models import Market


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """What ingestion needs of a market: its topics and its current state."""

    pk: int
    market_id: str
    category: str
    tags: tuple
    probability: float
    volume_24h: float


def markets_for_ingest(*, market_ids):
    """{market_id: MarketInfo} for the given slugs, in two queries whatever their number."""
    rows = list(
        Market.objects.filter(market_id__in=set(market_ids)).values_list(
            "pk", "market_id", "category", "probability", "volume_24h"
        )
    )
    tags = defaultdict(list)
    for market_pk, slug in Market.tags.through.objects.filter(market_id__in=[r[0] for r in rows]).values_list(
        "market_id", "tag__slug"
    ):
        tags[market_pk].append(slug)
    return {
        slug: MarketInfo(pk, slug, category, tuple(sorted(tags[pk])), probability, volume_24h)
        for pk, slug, category, probability, volume_24h in rows
    }


def markets_list(*, status=None, category=None, tag=None, q=None):
    """Markets in the model's order (volume first), with their tags prefetched; empty filters are ignored.

    `tag` is a tag slug, `q` words of the title (case-insensitive).
    """
    queryset = Market.objects.prefetch_related("tags")
    if status:
        queryset = queryset.filter(status=status)
    if category:
        queryset = queryset.filter(category=category)
    if tag:
        queryset = queryset.filter(tags__slug=tag)
    if q:
        queryset = queryset.filter(title__icontains=q)
    return queryset


def market_get(*, market_id):
    """One market with its tags prefetched; Market.DoesNotExist for an unknown slug."""
    return Market.objects.prefetch_related("tags").get(market_id=market_id)
