"""Reads of the catalog, tuned here so callers never loop over markets with queries."""
from collections import defaultdict
from dataclasses import dataclass

from markets.importers import CATEGORY_ALIASES, category_key
from markets.models import CategoryAlias, Market, MarketVelocity
from markets.serializers import market_item

EVENT_SIBLINGS_MAX = 50


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
    queryset = Market.objects.select_related("event").prefetch_related("tags")
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
    """One market with its event and tags; Market.DoesNotExist for an unknown slug."""
    return Market.objects.select_related("event").prefetch_related("tags").get(market_id=market_id)


def event_siblings(market, *, limit=EVENT_SIBLINGS_MAX):
    """The other markets of the market's event (its other outcomes), likeliest first: one query, or none
    without an event. Dicts of market_id, title, probability and status."""
    if market.event_id is None:
        return []
    siblings = Market.objects.filter(event_id=market.event_id).exclude(pk=market.pk)
    return list(siblings.order_by("-probability", "market_id").values("market_id", "title", "probability", "status")[
        :limit
    ])


def category_aliases():
    """The importers' category mapping: the defaults with the editors' CategoryAlias rows on top (one query)."""
    rows = CategoryAlias.objects.values_list("label", "category")
    return {**CATEGORY_ALIASES, **{category_key(label): category for label, category in rows}}


def market_items_get(*, market_pks):
    """{pk: the market item (markets.serializers.market_item)} of these markets whatever their status, with the
    global odds change of 24 h (0 when never computed): the cards of a replayed feed whose markets left the catalog."""
    markets = Market.objects.filter(pk__in=market_pks).prefetch_related("tags")
    velocities = MarketVelocity.objects.filter(market_id__in=market_pks, scope="global")
    changes = dict(velocities.values_list("market_id", "odds_change_24h"))
    return {m.pk: market_item(m, odds_change_24h=changes.get(m.pk) or 0.0) for m in markets}
