"""Output and query serializers of GET /api/trending."""
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from feedproject.fields import COUNTRY_PATTERN, alias_resolved, money_field, probability_field, score_field
from markets.scores import TRENDING_EVIDENCE_HALF
from markets.serializers import MarketItemSerializer, market_item


class TrendingInputsSerializer(serializers.Serializer):
    activity_1h = serializers.IntegerField(help_text="Engagements (positive-weight interactions) in the last hour.")
    activity_24h = serializers.IntegerField(help_text="Engagements in the last 24 h.")
    expected_1h = score_field(help_text="activity_24h / 24, at least 1.")
    spike = score_field(help_text="(activity_1h - expected)^2 / expected when above expected, else 0.")
    log_activity_24h = score_field(help_text="ln(1 + activity_24h).")
    raw = score_field(help_text="spike + log term; ranked within the scope.")
    evidence = score_field(
        help_text=f"activity_24h / (activity_24h + {TRENDING_EVIDENCE_HALF:g}): trending_score is the rank share of "
        "raw in the scope times this (for the app's share of it)."
    )
    backend_raw = score_field(
        help_text="Global scope: ln of the next day's expected volume on the trading backend, from its last hour, "
        "day and week (0 elsewhere)."
    )
    backend_evidence = score_field(
        help_text=f"backend trades 24 h / (trades + {TRENDING_EVIDENCE_HALF:g}), 1 without trade counts; "
        "trending_score is the mean of the app's and the backend's evidence-weighted rank shares."
    )


class TrendingItemSerializer(MarketItemSerializer):
    """A trending market: the market item (as the feed's), its rank, and the velocity it was scored from."""

    rank = serializers.IntegerField()
    trending_score = score_field()
    rising_score = score_field()
    views_5m = serializers.IntegerField()
    views_1h = serializers.IntegerField()
    views_24h = serializers.IntegerField()
    trades_5m = serializers.IntegerField()
    trades_1h = serializers.IntegerField()
    trades_24h = serializers.IntegerField()
    unique_users_5m = serializers.IntegerField()
    unique_users_1h = serializers.IntegerField()
    unique_users_24h = serializers.IntegerField()
    engaged_users_24h = serializers.IntegerField(help_text="Users who engaged (not only saw it) in 24 h.")
    backend_volume_5m = money_field(help_text="Volume the trading backend traded in 5 min.")
    backend_volume_1h = money_field()
    backend_volume_24h = money_field()
    backend_trades_5m = serializers.IntegerField(help_text="Trades on the trading backend in 5 min.")
    backend_trades_1h = serializers.IntegerField()
    backend_trades_24h = serializers.IntegerField()
    backend_daily_volume_7d = money_field(help_text="The backend's mean daily volume over 7 days.")
    ctr_24h = score_field()
    odds_change_1h = probability_field()
    participant_delta_24h = serializers.IntegerField()
    computed_at = serializers.DateTimeField(help_text="When the velocity fields were computed.")
    inputs = TrendingInputsSerializer(allow_null=True, help_text="The trending score's terms; null for movers.")


VELOCITY_FIELDS = tuple(name for name in TrendingItemSerializer._declared_fields
                        if name not in MarketItemSerializer._declared_fields and name not in ("rank", "inputs"))


def trending_item(velocity, *, rank, inputs):
    """TrendingItemSerializer's fields of a MarketVelocity (its market and tags loaded)."""
    return {**market_item(velocity.market, odds_change_24h=velocity.odds_change_24h), "rank": rank, "inputs": inputs,
            **{name: getattr(velocity, name) for name in VELOCITY_FIELDS}}


class TrendingSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["trending", "movers"])
    country = serializers.CharField(allow_null=True, help_text="The country trending was asked for; null: global.")
    scope = serializers.CharField(help_text='Deprecated: "global" or the country, as before `country`.')
    as_of = serializers.DateTimeField(allow_null=True, help_text="The time the trending scores were computed as of.")
    results = TrendingItemSerializer(many=True)


@extend_schema_serializer(deprecate_fields=["scope"])
class TrendingQuerySerializer(serializers.Serializer):
    country = serializers.RegexField(
        COUNTRY_PATTERN, required=False,
        error_messages={"invalid": "Use a two-letter country code such as IL, or leave country out for global."},
        help_text="A country code (any case), e.g. IL: what trends there. Left out: global.",
    )
    scope = serializers.RegexField(
        r"^(global|[A-Za-z]{2})$", required=False,
        error_messages={"invalid": 'Use "global" or a two-letter country code such as IL.'},
        help_text='Deprecated: the old name of `country`; "global" (the default) or a country code. Given with a '
        "different `country`, a 400 naming `country`.",
    )
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=20)
    kind = serializers.ChoiceField(
        choices=["trending", "movers"], required=False, default="trending",
        help_text="trending (default): the busiest markets by their trending score; movers: the biggest odds moves of "
        "24 h weighted by trading activity (the rising score), global only.",
    )

    def validate(self, attrs):
        if str(attrs.get("scope", "")).lower() == "global":
            attrs["scope"] = "global"
        # scope=global names no country: with country=XX it disagrees, as another country would.
        alias_resolved(attrs, "country", ("scope",))
        country = attrs.get("country")
        attrs["country"] = None if country in (None, "global") else country.upper()
        if attrs["kind"] == "movers" and attrs["country"]:
            raise serializers.ValidationError({"country": ["Movers are global: the trading backend's odds know no "
                                                           "country. Leave country out."]})
        return attrs
