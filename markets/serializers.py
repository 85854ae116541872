from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from feedproject.fields import CleanCharField, money_field, probability_field
from markets.models import Event, Market
from markets.movement import movement_badge
from markets.services import RESULT_STATUSES
from markets.validation import COUNT_MAX, MARKET_ID_MAX_LENGTH, STATE_UPDATES_MAX


def odds_change_field():
    return probability_field(help_text="Probability now minus 24 h ago, in probability units (0.12 = 12 points).")


def badge_field():
    return serializers.CharField(
        allow_null=True,
        help_text='The move as a card shows it, e.g. "▲ 12 pts today", from 5 points in 24 h; else null.',
    )


class MarketItemSerializer(serializers.Serializer):
    """A market as a card shows it: the one item shape of every list a frontend renders (the feed on each
    surface, /api/rank, /api/trending), each adding its own fields. The feed builds it by hand from the
    in-memory catalog (personalization/apis.py:market_payload); the others from a Market (`market_item`)."""

    market_id = serializers.CharField()
    title = serializers.CharField()
    category = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField(), help_text="Tag labels.")
    probability = probability_field()
    volume_24h = money_field()
    volume_total = money_field()
    image_url = serializers.CharField(allow_blank=True, help_text="An http(s) URL or an inline data:image/ URI.")
    resolution_date = serializers.DateTimeField(allow_null=True)
    odds_change_24h = odds_change_field()
    badge = badge_field()


# Markets of the demo catalog (`seed_demo`, seed 42: their ids do not depend on the day it runs), so an
# example works in "Try it out" on a seeded site; feedproject/tests/test_openapi_examples.py checks them.
EXAMPLE_MARKET_ID = "bitcoin-above-100k"
EXAMPLE_RELATED_ID = "ai-frontier-release-anthropic"
EXAMPLE_EVENT_MARKET_ID = "brasileirao-title-fluminense"
EXAMPLE_SIBLING_ID = "brasileirao-title-corinthians"
EXAMPLE_IMAGE = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnLz4="
EXAMPLE_ITEMS = {
    EXAMPLE_MARKET_ID: {
        "market_id": EXAMPLE_MARKET_ID, "title": "Will Bitcoin close above $100k on Jan 28?", "category": "Crypto",
        "tags": ["Bitcoin"], "probability": 0.3402, "volume_24h": 53956.39, "volume_total": 817883.31,
        "image_url": EXAMPLE_IMAGE, "resolution_date": "2027-01-28T23:59:00Z", "odds_change_24h": -0.0786,
        "badge": "▼ 8 pts today",
    },
    EXAMPLE_RELATED_ID: {
        "market_id": EXAMPLE_RELATED_ID, "title": "Will Anthropic release a new frontier model before Dec 20?",
        "category": "Science & Tech", "tags": ["AI"], "probability": 0.4418, "volume_24h": 19188.57,
        "volume_total": 308549.06, "image_url": EXAMPLE_IMAGE, "resolution_date": "2026-12-20T23:59:00Z",
        "odds_change_24h": 0.0123, "badge": None,
    },
}


def example_market(market_id=EXAMPLE_EVENT_MARKET_ID):
    """A MarketSerializer example (GET /api/markets, /api/markets/{id})."""
    return {
        "market_id": market_id, "title": "Will Fluminense win the Brasileirão this season?",
        "description": "This market resolves to Yes if Fluminense finish first in the Brasileirão this season. "
        "Otherwise it resolves to No.",
        "category": "Sports", "tags": ["Brasileirão", "Soccer"],
        "event": {"event_id": "demo-brasileirao-title", "title": "Who will win the Brasileirão this season?",
                  "slug": "brasileirao-title", "series": ""},
        "probability": 0.0171, "volume_24h": 14790.3, "volume_total": 100175.1, "trades_24h": 0,
        "participant_count": 624, "image_url": EXAMPLE_IMAGE, "status": "open", "created_at": "2026-11-24T09:14:00Z",
        "resolution_date": "2027-06-23T23:59:00Z", "event_start_at": None, "news_at": "2026-12-01T16:29:00Z",
        "editorial_description": "",
    }


def market_item(market, *, odds_change_24h):
    """MarketItemSerializer's fields of a Market (its tags prefetched), with the odds change it is shown with."""
    return {
        "market_id": market.market_id, "title": market.title, "category": market.category,
        "tags": [tag.label for tag in market.tags.all()], "probability": market.probability,
        "volume_24h": market.volume_24h, "volume_total": market.volume_total, "image_url": market.image_url,
        "resolution_date": market.resolution_date, "odds_change_24h": odds_change_24h,
        "badge": movement_badge(odds_change_24h),
    }


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["event_id", "title", "slug", "series"]


class MarketSerializer(serializers.ModelSerializer):
    tags = serializers.SerializerMethodField()
    event = EventSerializer(read_only=True, allow_null=True, help_text="The event the market is one outcome of.")

    class Meta:
        model = Market
        fields = [
            "market_id", "title", "description", "category", "tags", "event", "probability", "volume_24h",
            "volume_total", "trades_24h", "participant_count", "image_url", "status", "created_at", "resolution_date",
            "event_start_at", "news_at", "editorial_description",
        ]

    def get_tags(self, market) -> list[str]:
        return [t.label for t in market.tags.all()]


class EventSiblingSerializer(serializers.Serializer):
    market_id = serializers.CharField()
    title = serializers.CharField()
    probability = serializers.FloatField()
    status = serializers.ChoiceField(choices=Market.Status.choices)


class MarketDetailSerializer(MarketSerializer):
    """One market with its event's other outcomes, given as `event_siblings` in the context
    (markets.selectors.event_siblings: likeliest first, at most 50)."""

    event_siblings = serializers.SerializerMethodField()

    class Meta(MarketSerializer.Meta):
        fields = [*MarketSerializer.Meta.fields, "event_siblings"]

    @extend_schema_field(EventSiblingSerializer(many=True))
    def get_event_siblings(self, market):
        return EventSiblingSerializer(self.context["event_siblings"], many=True).data


STATE_AT_HELP = (
    "When the market was in this state, on the sender's clock (ISO 8601 with a time zone); at most "
    "TRACK_MAX_FUTURE_SECONDS (the clock-skew tolerance of /api/track) ahead of the server. A state older than "
    "the market's current one is stored as history only (docs/market-state.md)."
)


class MarketStateSerializer(serializers.Serializer):
    """`PATCH /api/markets/{market_id}`: what the trading backend may push. Everything else about a market is
    editorial. Documents the body; markets/validation.py validates it (a test keeps the two equal)."""

    at = serializers.DateTimeField(required=False, help_text=STATE_AT_HELP + " Default: the request's time.")
    probability = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    volume_24h = serializers.FloatField(min_value=0.0, required=False)
    volume_total = serializers.FloatField(min_value=0.0, required=False)
    trades_24h = serializers.IntegerField(min_value=0, max_value=COUNT_MAX, required=False,
                                          help_text="Trades in the last 24 h on the trading backend.")
    participant_count = serializers.IntegerField(min_value=0, max_value=COUNT_MAX, required=False)
    status = serializers.ChoiceField(choices=Market.Status.choices, required=False)


class MarketStateUpdateSerializer(MarketStateSerializer):
    """One update of `POST /api/markets/state`: a market, a time, and any of its state fields."""

    market_id = serializers.CharField(max_length=MARKET_ID_MAX_LENGTH)
    at = serializers.DateTimeField(help_text=STATE_AT_HELP)


class MarketStatesPushSerializer(serializers.Serializer):
    updates = MarketStateUpdateSerializer(
        many=True, help_text=f"Up to {STATE_UPDATES_MAX} updates; any order, any markets."
    )


class MarketStateResultSerializer(serializers.Serializer):
    market_id = serializers.CharField(allow_null=True, help_text="As sent; null when it was not a string.")
    status = serializers.ChoiceField(choices=RESULT_STATUSES)
    field = serializers.CharField(required=False, help_text="Rejected: the field at fault.")
    reason = serializers.CharField(required=False, help_text="Rejected: what is wrong with it.")


class MarketStatesResultSerializer(serializers.Serializer):
    """Per-update results in request order, and how many of each status."""

    applied = serializers.IntegerField(help_text="Moved the market's current state (and stored as a snapshot).")
    history = serializers.IntegerField(help_text="Older than the current state: stored as a snapshot only.")
    unchanged = serializers.IntegerField(help_text="The state at that time already had these values.")
    duplicate = serializers.IntegerField(help_text="That moment is stored with these values already.")
    rejected = serializers.IntegerField()
    results = MarketStateResultSerializer(many=True)


class MarketListQuerySerializer(serializers.Serializer):
    """The filters of GET /api/markets. Empty values mean no filter, as before; limit/offset belong to the paginator."""

    status = serializers.ChoiceField(choices=Market.Status.choices, required=False, allow_blank=True)
    category = CleanCharField(max_length=64, required=False, allow_blank=True)
    tag = CleanCharField(max_length=120, required=False, allow_blank=True, help_text="Tag slug.")
    q = CleanCharField(max_length=200, required=False, allow_blank=True, help_text="Words in the title.")
