"""The read side: GET /api/feed, POST /api/rank, GET /api/profile.

The caller's new anonymous key, when one was issued, is added by CallerApi.finalize_response.
"""
import functools

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from feedproject.after_response import after_response
from feedproject.api import AsOfQuerySerializer, CallerApi, LimitedJSONParser, json_body, request_now
from feedproject.fields import MONEY_DECIMALS, PROBABILITY_DECIMALS, SCORE_DECIMALS, rounded
from feedproject.openapi import EXAMPLE_ANON_KEY, EXAMPLE_FEED_REQUEST_ID, EXAMPLE_USER_KEY
from feedproject.vocabulary import Section
from markets.movement import movement_badge
from markets.serializers import EXAMPLE_ITEMS, EXAMPLE_MARKET_ID, EXAMPLE_RELATED_ID
from personalization.ranking.compose import sections as section_names
from personalization.selectors import profile_get
from personalization.serializers import (
    FeedQuerySerializer,
    FeedResponseSerializer,
    ProfileQuerySerializer,
    ProfileResponseSerializer,
    RankRequestSerializer,
    RankResponseSerializer,
)
from personalization.services import (
    NotInCatalog,
    ServedToAnother,
    feed_build,
    feed_replay,
    feed_served_record,
    markets_rank,
)


def market_payload(catalog, i):
    """markets.serializers.MarketItemSerializer's fields from the in-memory catalog, by hand (the hot path)."""
    display = catalog.display
    return {
        "market_id": catalog.market_id[i],
        "title": catalog.title[i],
        "category": catalog.categories[catalog.category[i]],
        "tags": display.tags_of(catalog, i),
        # round(), not feedproject.fields.rounded: on the hot path; these are never negative, so never -0.0.
        "probability": round(float(catalog.probability[i]), PROBABILITY_DECIMALS),
        "volume_24h": round(float(catalog.volume_24h[i]), MONEY_DECIMALS),
        "volume_total": round(float(display.volume_total[i]), MONEY_DECIMALS),
        "image_url": display.image_url[i],
        "resolution_date": display.resolution_date[i],
        **movement(catalog, i),
    }


def movement(catalog, i):
    change = round(float(catalog.display.odds_change_24h[i]), PROBABILITY_DECIMALS) + 0.0  # never -0.0
    return {"odds_change_24h": change, "badge": movement_badge(change)}


def rounded_components(components):
    return {k: rounded(v, SCORE_DECIMALS) for k, v in components.items()}


def feed_item(card, *, components, with_components, **place):
    """A feed item: the market's card with its place (position, section, pool, reason, reason_text) and, for
    staff, the components it was ranked with."""
    card.update(place)
    if with_components:
        card["components"] = rounded_components(components)
    return card


def feed_header(feed, *, replayed):
    """A feed's fields around its sections, from a FeedResult or a FeedReplay."""
    return {
        "feed_request_id": feed.feed_request_id,
        "user_key": feed.user_key,
        "generated_at": feed.generated_at,
        "degraded": feed.degraded,
        "surface": feed.surface,
        "config_version": feed.config_version,
        "model_version": feed.model_version,
        "replayed": replayed,
    }


def feed_payload(result, *, with_components, with_filtered=False):
    """The feed in FeedResponseSerializer's shape, built by hand: through the serializer it would cost
    more than a millisecond per feed. test_feed_api checks it against the serializer, key by key."""
    catalog = result.catalog
    sections = {str(section): [] for section in Section}
    for item in result.ranking.items:
        sections[item.section].append(feed_item(
            market_payload(catalog, item.index), components=item.components, with_components=with_components,
            position=item.position, section=item.section, pool=item.pool, reason=item.reason,
            reason_text=item.reason_text,
        ))
    payload = {**feed_header(result, replayed=False), "sections": sections}
    if with_filtered:
        payload["filtered"] = [
            {"market_id": catalog.market_id[i], "title": catalog.title[i], "rule": rule}
            for i, rule in sorted(result.ranking.filtered.items())
        ]
    return payload


# The reason of a feed logged before its reason_text was (tracking migration 0008), said generically.
REASON_TEXTS = {"personal": "Picked for you", "trending_local": "Trending near you", "trending_global":
                "Trending worldwide", "exploration": "Something new for you", "editorial": "Editor's pick",
                "followup": "Changed since you last saw this"}


def replay_payload(replay, *, with_components):
    """A served feed again (personalization.services.feed_replay) in FeedResponseSerializer's shape: the stored
    markets, positions, sections, pools and reasons; each card's data as it is now."""
    catalog = replay.catalog
    sections = {str(section): [] for section in Section}
    names = section_names(replay.rows[-1]["position"] + 1)  # as the ranking named them for that many items
    for row in replay.rows:
        i = catalog.index_of_pk.get(row["market_id"])
        if i is None and row["market_id"] not in replay.gone:
            continue  # a market deleted since (its served rows go with it, so only in a race)
        card = market_payload(catalog, i) if i is not None else dict(replay.gone[row["market_id"]])
        section = names[row["position"]]
        sections[section].append(feed_item(
            card, components=row["components"], with_components=with_components, position=row["position"],
            section=section, pool=row["pool"], reason=row["reason"],
            reason_text=row["reason_text"] or REASON_TEXTS.get(row["reason"], ""),
        ))
    return {**feed_header(replay, replayed=True), "sections": sections}


def ranked_payload(catalog, ranked, *, with_components):
    """markets_rank's (index, score, components, left_out_by) rows as RankedSerializer's items, by hand."""
    items = []
    for rank, (i, score, components, left_out_by) in enumerate(ranked):
        item = {**market_payload(catalog, i), "rank": rank, "score": rounded(score, SCORE_DECIMALS),
                "left_out_by": left_out_by}
        if with_components:
            item["components"] = rounded_components(components)
        items.append(item)
    return items


_FEED_EXAMPLES = [
    OpenApiExample("the home feed", value="home", parameter_only=("surface", "query")),
    OpenApiExample("related markets (with surface=market_related)", value=EXAMPLE_MARKET_ID,
                   parameter_only=("market_id", "query")),
    OpenApiExample("a category (with surface=category)", value="Crypto", parameter_only=("category", "query")),
    OpenApiExample("Israel", value="IL", parameter_only=("country", "query")),
    OpenApiExample("a feed served before", value=EXAMPLE_FEED_REQUEST_ID, parameter_only=("feed_request_id", "query")),
    OpenApiExample("a feed", response_only=True, value={
        "feed_request_id": EXAMPLE_FEED_REQUEST_ID, "user_key": EXAMPLE_USER_KEY, "anon_key": EXAMPLE_ANON_KEY,
        "generated_at": "2026-11-26T10:00:00Z", "degraded": False, "surface": "home", "config_version": 2,
        "model_version": None, "replayed": False, "sections": {
            "hero": [{**EXAMPLE_ITEMS[EXAMPLE_MARKET_ID], "position": 0, "section": "hero", "pool": "trending_global",
                      "reason": "trending_global", "reason_text": "Trending worldwide"}],
            "grid": [{**EXAMPLE_ITEMS[EXAMPLE_RELATED_ID], "position": 1, "section": "grid", "pool": "personal",
                      "reason": "personal", "reason_text": "Because you viewed 2 AI markets"}],
            "stream": [],
        },
    }),
]
_RANK_EXAMPLES = [
    OpenApiExample("two markets", request_only=True,
                   value={"market_ids": [EXAMPLE_RELATED_ID, EXAMPLE_MARKET_ID, EXAMPLE_RELATED_ID], "country": "IL"}),
    OpenApiExample("ranked", response_only=True, value={
        "user_key": EXAMPLE_USER_KEY, "anon_key": EXAMPLE_ANON_KEY, "degraded": False, "unknown": [],
        "duplicates": [EXAMPLE_RELATED_ID], "ranked": [
            {**EXAMPLE_ITEMS[EXAMPLE_MARKET_ID], "rank": 0, "score": 1.0096, "left_out_by": None},
            {**EXAMPLE_ITEMS[EXAMPLE_RELATED_ID], "rank": 1, "score": 0.4127, "left_out_by": None},
        ],
    }),
]
_PROFILE_EXAMPLES = [OpenApiExample("a visitor", response_only=True, value={
    "user_key": EXAMPLE_USER_KEY, "anon_key": EXAMPLE_ANON_KEY, "country": "IL",
    "last_active_at": "2026-11-26T10:00:00Z", "session_started_at": "2026-11-26T09:40:00Z", "total_interactions": 3,
    "affinities": {
        "long": [{"topic_type": "category", "topic": "Crypto", "value": 2.4},
                 {"topic_type": "tag", "topic": "Bitcoin", "value": 1.8}],
        "session": [{"topic_type": "tag", "topic": "Bitcoin", "value": 1.2}],
    },
    "recent": [{"market_id": EXAMPLE_MARKET_ID, "event_type": "click", "occurred_at": "2026-11-26T09:59:00Z"}],
})]


class FeedApi(CallerApi):
    """The caller's ranked feed: hero, grid and stream, each item with its reason."""

    @extend_schema(parameters=[FeedQuerySerializer, AsOfQuerySerializer], responses=FeedResponseSerializer,
                   examples=_FEED_EXAMPLES)
    def get(self, request):
        query = FeedQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        caller = self.caller(request, acting_for=q.get("user_key"))
        if q.get("feed_request_id") is not None:
            try:
                replay = feed_replay(user_key=caller.user_key, surface=q["surface"],
                                     feed_request_id=q["feed_request_id"], now=request_now(request))
            except ServedToAnother:
                raise serializers.ValidationError({"feed_request_id": [
                    "This feed was served to another caller or on another surface: leave feed_request_id out for "
                    "a new feed."]}) from None
            if replay is not None:  # "same id, same feed"; served before, so not logged again
                return Response(replay_payload(replay, with_components=caller.is_staff))
        try:
            result = feed_build(
                user_key=caller.user_key, surface=q["surface"], limit=q["limit"], country=q.get("country", ""),
                feed_request_id=q.get("feed_request_id"), now=request_now(request), category=q.get("category"),
                market_id=q.get("market_id"),
            )
        except NotInCatalog:
            raise Http404(f"No open market {q['market_id']!r}.") from None
        # Logged as served once the answer has gone out: the served log costs the client no latency.
        after_response(functools.partial(feed_served_record, result))
        return Response(
            feed_payload(result, with_components=caller.is_staff, with_filtered=caller.is_staff and q["debug"])
        )


class RankApi(CallerApi):
    """Given markets in the caller's rank order, with scores (search, related markets, evaluation).

    Order: the markets the feed could show first, by score, best first; then those a cap or a hide
    keeps out of the feed (`left_out_by` says which), by score. Each id is ranked once: ids sent more
    than once are listed in `duplicates`, unknown, closed and resolved ones in `unknown`."""

    # At most 500 ids of 200 characters fit well under the limit; the parser also refuses deep JSON.
    parser_classes = [LimitedJSONParser]

    @extend_schema(request=RankRequestSerializer, parameters=[AsOfQuerySerializer], responses=RankResponseSerializer,
                   examples=_RANK_EXAMPLES)
    def post(self, request):
        body = RankRequestSerializer(data=json_body(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        caller = self.caller(request, acting_for=data.get("user_key"))
        catalog, ranked, unknown, degraded = markets_rank(
            user_key=caller.user_key, market_ids=data["market_ids"], surface=data["surface"],
            country=data.get("country", ""), now=request_now(request),
        )
        seen, duplicates = set(), []
        for market_id in data["market_ids"]:
            if market_id in seen and market_id not in duplicates:
                duplicates.append(market_id)
            seen.add(market_id)
        payload = {
            "user_key": caller.user_key, "degraded": degraded, "unknown": unknown, "duplicates": duplicates,
            "ranked": ranked_payload(catalog, ranked, with_components=caller.is_staff),
        }
        # By hand, as the feed: through RankResponseSerializer, 300 market items cost about 15 ms more.
        # personalization/tests/test_item_shape.py checks the payload against it key by key.
        return Response(payload)


class ProfileApi(CallerApi):
    """The caller's own profile: affinities now (decayed) and recent history. Nobody reads another's."""

    @extend_schema(
        parameters=[ProfileQuerySerializer],
        responses=ProfileResponseSerializer,
        examples=_PROFILE_EXAMPLES,
    )
    def get(self, request):
        query = ProfileQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        caller = self.caller(request, acting_for=query.validated_data.get("user_key"))
        return Response(ProfileResponseSerializer(profile_get(user_key=caller.user_key, now=timezone.now())).data)
