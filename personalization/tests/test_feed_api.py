"""GET /api/feed, POST /api/rank, GET /api/profile end to end (database, selectors, ranking)."""
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from feedproject.tests.clients import token_client
from feedproject.tests.serializer_shape import assert_matches_serializer
from ingestion.tests.conftest import make_event, make_impression
from markets.models import Event, Market, MarketVelocity
from markets.tests.factories import MarketFactory, TagFactory
from personalization.feed_configs import feed_config_save_version
from personalization.ranking.config import default_params
from personalization.selectors import caches_reset, catalog_current
from personalization.serializers import FeedResponseSerializer
from personalization.tests.ranking_data import _letters
from tracking.models import Impression, ServedItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    nba, btc = TagFactory(label="NBA"), TagFactory(label="Bitcoin")
    markets = []
    for i in range(12):
        markets.append(MarketFactory(category="Sports", tags=[nba], market_id=f"sports-{i}"))
        markets.append(MarketFactory(category="Crypto", tags=[btc], market_id=f"crypto-{i}"))
        markets.append(MarketFactory(category="Politics", market_id=f"politics-{i}"))
    now = timezone.now()
    MarketVelocity.objects.bulk_create(
        [
            MarketVelocity(market=m, scope="global", trending_score=(k % 10) / 10, computed_at=now)
            for k, m in enumerate(markets)
        ]
    )
    MarketFactory(market_id="resolved-one", status=Market.Status.RESOLVED)
    MarketFactory(market_id="closed-one", status=Market.Status.CLOSED)
    MarketVelocity.objects.bulk_create(
        [MarketVelocity(market=m, scope="global", trending_score=1.0, computed_at=now)
         for m in Market.objects.exclude(status=Market.Status.OPEN)]
    )
    return markets


def items(body):
    return [it for section in ("hero", "grid", "stream") for it in body["sections"][section]]


def test_a_new_visitor_gets_a_full_trending_and_exploration_feed_and_a_key(catalog):
    response = APIClient().get("/api/feed?limit=20")
    body = response.json()
    assert response.status_code == 200
    assert body["user_key"].startswith("a:") and body["anon_key"]
    feed = items(body)
    assert len(feed) == 20
    assert [len(body["sections"][s]) for s in ("hero", "grid", "stream")] == [1, 9, 10]
    assert {it["reason"] for it in feed} <= {"trending_global", "exploration", "personal"}
    assert all(it["reason_text"] for it in feed)
    assert "components" not in feed[0]
    assert not {"resolved-one", "closed-one"} & {
        it["market_id"] for it in items(APIClient().get("/api/feed?limit=100").json())
    }


def test_the_feed_reacts_to_the_users_own_last_event(catalog):
    client = APIClient()
    first = client.get("/api/feed?limit=10").json()
    client.post(
        "/api/track",
        {"events": [make_event(market_id=f"crypto-{i}", event_type="participate") for i in range(3)]},
        format="json",
    )
    after = items(client.get("/api/feed?limit=10").json())
    personal = [it for it in after if it["reason"] == "personal"]
    assert personal and personal[0]["category"] == "Crypto"
    assert any("Bitcoin" in it["reason_text"] or "Crypto" in it["reason_text"] for it in personal)
    assert first["user_key"] == client.get("/api/feed").json()["user_key"]


def test_a_market_shown_a_minute_ago_is_not_shown_on_refresh(catalog):
    client = APIClient()
    body = client.get("/api/feed?limit=10").json()
    shown = [it["market_id"] for it in items(body)]
    client.post(
        "/api/impressions",
        {"feed_request_id": body["feed_request_id"], "impressions": [make_impression(market_id=m) for m in shown]},
        format="json",
    )
    refreshed = {it["market_id"] for it in items(client.get("/api/feed?limit=10").json())}
    assert not refreshed & set(shown)


def test_the_same_feed_request_id_reproduces_the_feed(catalog):
    client = APIClient()
    request_id = str(uuid.uuid4())
    a = client.get(f"/api/feed?limit=20&feed_request_id={request_id}").json()
    b = client.get(f"/api/feed?limit=20&feed_request_id={request_id}").json()
    assert [it["market_id"] for it in items(a)] == [it["market_id"] for it in items(b)]
    assert a["feed_request_id"] == request_id


def test_staff_see_components_and_with_debug_the_markets_left_out(catalog, admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    client.post("/api/track", make_event(market_id="sports-1", event_type="hide"), format="json")
    body = client.get("/api/feed?limit=5&debug=1").json()
    assert set(items(body)[0]["components"]) >= {"interest", "trending", "final"}
    assert {"market_id": "sports-1", "title": Market.objects.get(market_id="sports-1").title, "rule": "hidden"} in body[
        "filtered"
    ]


def test_the_outcomes_of_one_event_take_one_of_the_first_nine_and_hiding_one_lowers_them_all(catalog):
    """The catalog's events reach the feed: one outcome in the first N; hiding one outcome keeps
    it out and lowers the event's others below the first N."""
    # The fixture's titles differ only by a number, so they are one question: give each its own.
    for i, market in enumerate(catalog):
        Market.objects.filter(pk=market.pk).update(title=f"Will {_letters(i)} happen?")
    event = Event.objects.create(event_id="polymarket-77", title="Who wins the cup?")
    cup = TagFactory(label="Cup")
    now = timezone.now()
    # Each outcome has a tag of its own, so only the event makes them one question.
    outcomes = [MarketFactory(category="Culture", tags=[cup, TagFactory(label=name)], market_id=f"cup-{name}",
                              event=event, title=f"Will {name} win the cup?")
                for name in ("Lions", "Hawks", "Owls", "Bears")]
    MarketVelocity.objects.bulk_create(
        [MarketVelocity(market=m, scope="global", trending_score=1.0, computed_at=now) for m in outcomes]
    )
    caches_reset()
    client = APIClient()
    client.post("/api/track", {"events": [make_event(market_id="sports-1", event_type="participate")]}, format="json")
    for _ in range(3):
        feed = [it["market_id"] for it in items(client.get("/api/feed?limit=12").json())]
        assert len([m for m in feed[:9] if m.startswith("cup-")]) == 1, feed
    client.post("/api/track", make_event(market_id="cup-Lions", event_type="hide"), format="json")
    feed = [it["market_id"] for it in items(client.get("/api/feed?limit=20").json())]
    assert "cup-Lions" not in feed and not [m for m in feed[:9] if m.startswith("cup-")], feed


def test_feed_and_rank_items_carry_the_24h_odds_change_and_its_badge(catalog):
    MarketVelocity.objects.filter(market__market_id="politics-3", scope="global").update(odds_change_24h=0.123)
    MarketVelocity.objects.filter(market__market_id="politics-4", scope="global").update(odds_change_24h=-0.049)
    caches_reset()
    feed = {it["market_id"]: it for it in items(APIClient().get("/api/feed?limit=36").json())}
    assert (feed["politics-3"]["odds_change_24h"], feed["politics-3"]["badge"]) == (0.123, "▲ 12 pts today")
    assert (feed["politics-4"]["odds_change_24h"], feed["politics-4"]["badge"]) == (-0.049, None)
    ranked = APIClient().post("/api/rank", {"market_ids": ["politics-3", "politics-4"]}, format="json").json()
    badges = {it["market_id"]: it["badge"] for it in ranked["ranked"]}
    assert badges == {"politics-3": "▲ 12 pts today", "politics-4": None}


def test_the_category_surface_serves_the_callers_feed_within_one_category(catalog):
    client = APIClient()
    client.post("/api/track", make_event(market_id="sports-1", event_type="participate"), format="json")
    body = client.get("/api/feed?surface=category&category=Crypto&limit=12").json()
    feed = items(body)
    assert body["surface"] == "category" and len(feed) == 12 and {it["category"] for it in feed} == {"Crypto"}
    assert set(ServedItem.objects.filter(feed_request_id=body["feed_request_id"]).values_list("surface", flat=True)) \
        == {"category"}
    assert items(client.get("/api/feed?surface=category&category=Weather").json()) == []


@pytest.mark.parametrize(("query", "message"), [
    ("surface=category", "Required with surface=category"),
    ("surface=home&category=Sports", "Only with surface=category"),
    ("category=Sports", "Only with surface=category"),
])
def test_a_category_without_its_surface_or_the_surface_without_a_category_is_a_400(catalog, query, message):
    response = APIClient().get(f"/api/feed?{query}")
    assert response.status_code == 400 and message in response.json()["category"][0]


def test_the_related_surface_gives_markets_like_the_page_one_and_never_it_hidden_or_closed_ones():
    nba = TagFactory(label="NBA")
    page = MarketFactory(market_id="lakers-finals", title="Will the Lakers win the NBA Finals?", tags=[nba])
    MarketFactory(market_id="celtics-finals", title="Will the Celtics win the NBA Finals?", tags=[nba])
    MarketFactory(market_id="lebron-mvp", title="Will LeBron James win the NBA MVP?", tags=[nba])
    MarketFactory(market_id="knicks-finals", title="Will the Knicks win the NBA Finals?", tags=[nba],
                  status=Market.Status.RESOLVED)
    for k, title in enumerate(("Bitcoin above its record?", "Snow in Miami?", "Senate passes the budget?")):
        MarketFactory(market_id=f"other-{k}", title=title, category="Politics")
    caches_reset()
    client = APIClient()
    client.post("/api/track", make_event(market_id="lebron-mvp", event_type="hide"), format="json")
    body = client.get("/api/feed?surface=market_related&market_id=lakers-finals&limit=5").json()
    related = [it["market_id"] for it in items(body)]
    assert related and related[0] == "celtics-finals"
    assert not {"lakers-finals", "lebron-mvp", "knicks-finals"} & set(related)
    # Users who engaged with the page's market also bet on the snow one: for a new visitor it comes next.
    for _ in range(4):
        user = APIClient()
        user.post("/api/track", {"events": [make_event(market_id="lakers-finals", event_type="participate"),
                                            make_event(market_id="other-1", event_type="participate")]},
                  format="json")
    fresh = [it["market_id"] for it in items(APIClient().get(
        "/api/feed?surface=market_related&market_id=lakers-finals&limit=5").json())]
    assert "other-1" in fresh and not {"other-0", "other-2"} & set(fresh)  # unrelated in content and in use
    assert "other-1" not in related
    assert page.market_id not in fresh


def test_the_related_content_is_built_with_the_catalog_and_refitted_only_when_the_texts_change():
    from markets.services import catalog_version_bump
    from personalization.ranking.related import content_fits

    nba = TagFactory(label="NBA")
    MarketFactory(market_id="lakers-finals", title="Will the Lakers win the NBA Finals?", tags=[nba])
    MarketFactory(market_id="celtics-finals", title="Will the Celtics win the NBA Finals?", tags=[nba])
    MarketFactory(market_id="snow", title="Snow in Miami this winter?", category="Politics")
    caches_reset()
    fits = content_fits()
    warm, _ = catalog_current(now=timezone.now())  # what a process's first request, or a refresh, does
    assert warm._related_tfidf is not None and content_fits() <= fits + 1
    fits = content_fits()
    client = APIClient()
    url = "/api/feed?surface=market_related&market_id=lakers-finals&limit=5"
    assert [it["market_id"] for it in items(client.get(url).json())][0] == "celtics-finals"
    assert content_fits() == fits  # the first related request fitted nothing
    # A refresh with the same texts (the trend moved) keeps the fitted TF-IDF; a new market refits it.
    catalog_version_bump()
    caches_reset()
    assert catalog_current(now=timezone.now())[0] is not warm and content_fits() == fits
    MarketFactory(market_id="clippers-finals", title="Will the Clippers win the NBA Finals?", tags=[nba])
    catalog_version_bump()
    caches_reset()
    catalog_current(now=timezone.now())
    assert content_fits() == fits + 1
    assert "clippers-finals" in [it["market_id"] for it in items(client.get(url).json())][:2]
    assert content_fits() == fits + 1


@pytest.mark.parametrize(("query", "status", "field"), [
    ("surface=market_related", 400, "market_id"),
    ("surface=home&market_id=sports-1", 400, "market_id"),
    ("surface=market_related&market_id=nope", 404, "detail"),
    ("surface=market_related&market_id=resolved-one", 404, "detail"),
])
def test_a_related_feed_needs_an_open_market(catalog, query, status, field):
    response = APIClient().get(f"/api/feed?{query}")
    assert response.status_code == status and field in response.json()


def test_a_visitor_cannot_read_another_users_feed_or_profile(catalog):
    assert APIClient().get("/api/feed?user_key=u:1").status_code == 403
    assert APIClient().get("/api/profile?user_key=u:1").status_code == 403


def test_a_service_may_read_any_users_feed(catalog):
    client = token_client("bff", "act_for_any_user")
    assert client.get("/api/feed?user_key=u:9").json()["user_key"] == "u:9"


def test_the_profile_shows_the_callers_affinities(catalog):
    client = APIClient()
    client.post("/api/track", make_event(market_id="sports-2", event_type="bookmark", geo_country="IL"), format="json")
    body = client.get("/api/profile").json()
    assert body["country"] == "IL"
    assert body["affinities"]["long"][0] == {"topic_type": "category", "topic": "Sports", "value": 3.5}
    assert body["recent"][0]["market_id"] == "sports-2"


def test_rank_orders_the_given_markets_and_lists_unknown_ones(catalog):
    client = APIClient()
    client.post("/api/track", make_event(market_id="crypto-1", event_type="participate"), format="json")
    body = client.post(
        "/api/rank", {"market_ids": ["sports-3", "crypto-2", "nope", "resolved-one"]}, format="json"
    ).json()
    assert [r["market_id"] for r in body["ranked"]] == ["crypto-2", "sports-3"]
    assert body["ranked"][0]["score"] > body["ranked"][1]["score"]
    assert body["unknown"] == ["nope", "resolved-one"] and body["duplicates"] == []


def test_rank_ranks_a_repeated_id_once_and_says_so_and_puts_left_out_markets_last(catalog):
    client = APIClient()
    client.post("/api/track", make_event(market_id="crypto-1", event_type="participate"), format="json")
    client.post("/api/track", make_event(market_id="crypto-2", event_type="hide"), format="json")
    body = client.post("/api/rank", {"market_ids": ["crypto-2", "sports-3", "crypto-3", "sports-3", "crypto-2",
                                                    "sports-3"]}, format="json").json()
    ranked = body["ranked"]
    assert {r["market_id"] for r in ranked[:2]} == {"crypto-3", "sports-3"} and ranked[2]["market_id"] == "crypto-2"
    assert [r["left_out_by"] for r in ranked] == [None, None, "hidden"] and ranked[0]["score"] >= ranked[1]["score"]
    assert body["duplicates"] == ["sports-3", "crypto-2"] and body["unknown"] == []


def test_a_new_active_config_is_used_without_a_restart(catalog, django_capture_on_commit_callbacks):
    client = APIClient()
    client.post("/api/track", make_event(market_id="sports-1", event_type="participate"), format="json")
    before = client.get("/api/feed?limit=20").json()
    assert before["config_version"] == 1
    params = default_params()
    params["quotas"].update(personal=0.2, trending_global=0.45)
    with django_capture_on_commit_callbacks(execute=True):
        feed_config_save_version(surface="home", params=params, note="more trending", created_by=None, activate=True)
    after = client.get("/api/feed?limit=20").json()
    assert after["config_version"] == 2
    count = lambda body, reason: sum(it["reason"] == reason for it in items(body))  # noqa: E731
    assert count(after, "trending_global") > count(before, "trending_global")


def test_the_feed_query_count_does_not_grow_with_the_catalog(catalog):
    client = APIClient()
    client.post("/api/track", {"events": [make_event(market_id=f"sports-{i}") for i in range(3)]}, format="json")
    counts = []
    for extra in (0, 60):
        MarketFactory.create_batch(extra, category="World")
        caches_reset()
        assert client.get("/api/feed?limit=100").json()["sections"]  # reloads the catalog
        assert catalog_current(now=timezone.now())[0].pk.size == 36 + extra
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/feed").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] == 6, counts  # the user's five reads, and one INSERT of the served log


def test_bad_query_parameters_are_a_400(catalog):
    assert APIClient().get("/api/feed?limit=0").status_code == 400
    assert APIClient().get("/api/feed?surface=nope").status_code == 400
    assert APIClient().post("/api/rank", {"market_ids": []}, format="json").status_code == 400


def test_the_hand_built_feed_sends_exactly_the_fields_its_serializer_declares(catalog, admin_user):
    visitor = APIClient().get("/api/feed?limit=20").json()  # a new visitor: anon_key
    staff = APIClient()
    staff.force_authenticate(admin_user)
    staff.post("/api/track", make_event(market_id="sports-1", event_type="hide"), format="json")
    debug = staff.get("/api/feed?limit=20&debug=1").json()  # components, and sports-1 under filtered
    assert_matches_serializer(FeedResponseSerializer, visitor, debug)


def test_rank_and_profile_hand_a_new_visitor_its_key_in_the_body_header_and_cookie(catalog):
    for response in (
        APIClient().post("/api/rank", {"market_ids": ["sports-1"]}, format="json"),
        APIClient().get("/api/profile"),
    ):
        body = response.json()
        assert body["anon_key"] == response["X-User-Key"] == response.cookies["feed_uk"].value
        assert body["anon_key"].startswith(body["user_key"] + ":")


def test_a_refused_request_keeps_the_error_body_but_still_sets_the_new_key(catalog):
    response = APIClient().get("/api/profile?user_key=u:1")
    assert response.status_code == 403
    assert set(response.json()) == {"detail"}
    assert response["X-User-Key"] == response.cookies["feed_uk"].value


def _active_user(client, markets):
    """A visitor with interactions, affinities (a tag per market), shown markets and a hidden one."""
    client.post("/api/track", {"events": [make_event(market_id=m.market_id) for m in markets]}, format="json")
    client.post("/api/track", make_event(market_id=markets[0].market_id, event_type="hide"), format="json")
    client.post(
        "/api/impressions", {"impressions": [make_impression(market_id=m.market_id) for m in markets]}, format="json"
    )


@pytest.mark.parametrize("size", [3, 30])
def test_rank_runs_the_same_five_queries_whatever_the_number_of_markets_and_rows(size, django_assert_num_queries):
    markets = [MarketFactory(tags=[TagFactory()], market_id=f"ranked-{k}") for k in range(size)]
    client = APIClient()
    _active_user(client, markets)
    body = {"market_ids": [m.market_id for m in markets]}
    client.post("/api/rank", body, format="json")  # loads the catalog and the feed config: warm from here on
    # the user's profile, affinities, market states (also the trials of hits and misses), impression
    # counts, recent interactions
    with django_assert_num_queries(5):
        response = client.post("/api/rank", body, format="json")
    ranked = response.json()["ranked"]
    assert len(ranked) == size and ranked[-1]["left_out_by"] == "hidden"


@pytest.mark.parametrize("size", [3, 30])
def test_the_profile_runs_the_same_three_queries_whatever_its_size(size, django_assert_num_queries):
    markets = [MarketFactory(tags=[TagFactory()], market_id=f"seen-{k}") for k in range(size)]
    client = APIClient()
    _active_user(client, markets)
    # the profile, the affinities, the recent interactions with their market ids (no catalog read)
    with django_assert_num_queries(3):
        body = client.get("/api/profile").json()
    assert len(body["recent"]) == size + 1
    assert len(body["affinities"]["long"]) == size + 1  # a tag per market, and their category


@pytest.fixture
def service_client():
    return token_client("bff", "act_for_any_user")


@pytest.mark.parametrize("url, field", [
    ("/api/feed?user_key=%00", "user_key"),
    ("/api/feed?user_key=u:%001", "user_key"),
    ("/api/feed?feed_request_id=%00", "feed_request_id"),
    ("/api/feed?geo=%00", "geo"),
    ("/api/feed?country=%00", "country"),
    ("/api/feed?surface=%00", "surface"),
    ("/api/profile?user_key=%00", "user_key"),
    ("/api/profile?user_key=u:%001", "user_key"),
])
def test_unstorable_query_values_from_a_service_are_a_400_in_the_validation_shape(catalog, service_client, url, field):
    response = service_client.get(url)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field] and isinstance(body[field], list)


def test_unstorable_values_in_a_rank_body_are_a_400(catalog, service_client):
    response = service_client.post("/api/rank", {"market_ids": ["sports-1"], "user_key": "u:\x00"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["user_key"]
    response = service_client.post("/api/rank", {"market_ids": ["sports-\x001"]}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["market_ids"]


def test_a_service_may_still_read_any_users_profile(catalog, service_client):
    assert service_client.get("/api/profile?user_key=u:9").json()["user_key"] == "u:9"


def test_an_unknown_field_in_a_rank_body_is_a_400_naming_it_not_silently_dropped(catalog):
    # A misspelt option (`surfce`) would otherwise rank for the default surface without a word.
    response = APIClient().post("/api/rank", {"market_ids": ["sports-1"], "surfce": "category"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"surfce": ["Unknown field; the fields are market_ids, surface, country, geo, user_key."]}


def test_a_served_feed_is_logged_item_by_item_and_joins_its_impressions(catalog):
    client = APIClient()
    body = client.get("/api/feed?limit=20").json()
    served = list(
        ServedItem.objects.filter(feed_request_id=body["feed_request_id"]).order_by("position").values(
            "market__market_id", "user_key", "surface", "config_version", "position", "pool", "reason", "score",
            "components", "propensity",
        )
    )
    shown = items(body)
    assert [s["market__market_id"] for s in served] == [it["market_id"] for it in shown]
    assert [s["position"] for s in served] == list(range(len(shown)))
    assert {s["user_key"] for s in served} == {body["user_key"]}
    assert {(s["surface"], s["config_version"]) for s in served} == {("home", body["config_version"])}
    assert [s["reason"] for s in served] == [it["reason"] for it in shown]
    assert all(set(s["components"]) >= {"interest", "trending", "final"} for s in served)
    explored = [s for s in served if s["pool"] == "exploration"]
    assert explored and all(0 < s["propensity"] <= 1 for s in explored)
    assert all(s["propensity"] is None for s in served if s["pool"] != "exploration")

    first = shown[0]["market_id"]
    client.post("/api/impressions", {"feed_request_id": body["feed_request_id"],
                                     "impressions": [make_impression(market_id=first)]}, format="json")
    joined = Impression.objects.filter(
        feed_request_id=body["feed_request_id"],
        market__in=ServedItem.objects.filter(feed_request_id=body["feed_request_id"]).values("market"),
    )
    assert list(joined.values_list("market__market_id", flat=True)) == [first]


def test_asking_again_for_the_same_feed_request_keeps_its_first_record(catalog):
    client = APIClient()
    feed_request_id = uuid.uuid4()
    first = client.get(f"/api/feed?feed_request_id={feed_request_id}").json()
    client.get(f"/api/feed?feed_request_id={feed_request_id}")
    assert ServedItem.objects.filter(feed_request_id=feed_request_id).count() == len(items(first))


def test_the_admin_preview_is_not_logged_as_served(catalog, admin_client):
    page = admin_client.get("/admin/personalization/feedconfig/preview/?user_key=u:someone&surface=home&limit=10")
    assert "Feed of u:someone" in page.content.decode()
    assert not ServedItem.objects.exists()
