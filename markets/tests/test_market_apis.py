"""GET /api/markets, GET and PATCH /api/markets/{market_id} (with the market's event and its other outcomes)."""
import pytest
from rest_framework.test import APIClient

from feedproject.tests.clients import token_client
from markets.models import Event, MarketSnapshot
from markets.selectors import EVENT_SIBLINGS_MAX
from markets.tests.factories import MarketFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def trading_backend():
    return token_client("trading-backend", "change_market")


def test_the_list_filters_by_category_and_tag_without_a_query_per_market(django_assert_num_queries):
    nba = TagFactory(label="NBA")
    MarketFactory.create_batch(5, category="Sports", tags=[nba])
    MarketFactory.create_batch(3, category="Crypto")
    with django_assert_num_queries(3):  # count, page, tags
        response = APIClient().get("/api/markets?tag=nba&limit=50")
    body = response.json()
    assert body["count"] == 5
    assert {m["category"] for m in body["results"]} == {"Sports"}
    assert body["results"][0]["tags"] == ["NBA"]


def test_patch_updates_the_state_and_writes_a_snapshot(trading_backend):
    market = MarketFactory(probability=0.41)
    response = trading_backend.patch(
        f"/api/markets/{market.market_id}", {"probability": 0.58, "volume_24h": 9000}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["probability"] == 0.58
    snapshot = MarketSnapshot.objects.get(market=market)
    assert (snapshot.probability, snapshot.volume_24h) == (0.58, 9000)


def test_patch_with_nothing_new_writes_no_snapshot(trading_backend):
    market = MarketFactory(probability=0.41)
    trading_backend.patch(f"/api/markets/{market.market_id}", {"probability": 0.41}, format="json")
    assert MarketSnapshot.objects.count() == 0


@pytest.mark.parametrize(
    "body, field",
    [({"probability": 1.5}, "probability"), ({"title": "New title"}, "title"), ({"status": "paused"}, "status")],
)
def test_patch_refuses_bad_values_and_editorial_fields(trading_backend, body, field):
    market = MarketFactory(probability=0.41)
    response = trading_backend.patch(f"/api/markets/{market.market_id}", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    market.refresh_from_db()
    assert market.probability == 0.41


def test_patch_needs_a_service_token():
    market = MarketFactory()
    assert APIClient().patch(f"/api/markets/{market.market_id}", {"probability": 0.9}, format="json").status_code == 401
    client = token_client("reader")
    assert client.patch(f"/api/markets/{market.market_id}", {"probability": 0.9}, format="json").status_code == 403


def test_an_unknown_market_is_a_404(trading_backend):
    assert trading_backend.patch("/api/markets/nope", {"probability": 0.5}, format="json").status_code == 404
    assert APIClient().get("/api/markets/nope").status_code == 404


@pytest.mark.parametrize(
    "url, valid",
    [("https://img.example/a.png", True), ("data:image/svg+xml;base64,PHN2Zz4=", True),
     ("javascript:alert(1)", False), ("ftp://x/y.png", False)],
)
def test_image_urls_are_http_or_inline_images(url, valid):
    from django.core.exceptions import ValidationError

    from markets.models import validate_image_url

    if valid:
        validate_image_url(url)
    else:
        with pytest.raises(ValidationError):
            validate_image_url(url)


@pytest.mark.parametrize("param", ["q", "category", "tag", "status"])
@pytest.mark.parametrize("value", ["%00", "a%00b"])
def test_unstorable_filter_values_are_a_400_not_a_500(param, value):
    MarketFactory()
    response = APIClient().get(f"/api/markets?{param}={value}")
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [param] and isinstance(body[param], list)


@pytest.mark.parametrize("param", ["q", "category", "tag", "status"])
def test_a_lone_surrogate_in_a_filter_is_refused(param):
    # Django decodes an encoded surrogate in a URL to U+FFFD, so the serializer is given one directly.
    from markets.serializers import MarketListQuerySerializer

    query = MarketListQuerySerializer(data={param: "a\ud800"})
    assert not query.is_valid()
    assert list(query.errors) == [param]


def test_an_unknown_status_or_an_overlong_filter_is_a_400():
    assert APIClient().get("/api/markets?status=paused").json() == {
        "status": ['"paused" is not a valid choice.']
    }
    assert APIClient().get("/api/markets?q=" + "x" * 201).status_code == 400


def test_empty_filters_are_still_ignored():
    MarketFactory.create_batch(2)
    assert APIClient().get("/api/markets?status=&q=&category=&tag=").json()["count"] == 2


@pytest.mark.parametrize("query, size", [("", 50), ("?limit=0", 50), ("?limit=1000000", 200), ("?limit=7", 7)])
def test_the_list_is_always_a_bounded_page(query, size):
    MarketFactory.create_batch(210)
    body = APIClient().get(f"/api/markets{query}").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 210
    assert len(body["results"]) == size


# --- The market's event and its other outcomes ---------------------------------------------------


@pytest.fixture
def pope():
    return Event.objects.create(
        event_id="kalshi-kxnewpope-70", title="Who will the next Pope be?", slug="kxnewpope-70",
        series="kalshi-kxnewpope",
    )


def test_a_market_of_an_event_gives_the_event_and_its_other_outcomes_likeliest_first(pope, django_assert_num_queries):
    parolin = MarketFactory(market_id="pope-parolin", title="Pietro Parolin", probability=0.06, event=pope)
    MarketFactory(market_id="pope-tagle", title="Luis Antonio Tagle", probability=0.11, event=pope)
    MarketFactory(market_id="pope-zuppi", title="Matteo Zuppi", probability=0.07, event=pope,
                  status="closed")
    MarketFactory(market_id="pope-aveline", title="Jean-Marc Aveline", probability=0.07, event=pope)
    MarketFactory(market_id="unrelated", probability=0.99)
    with django_assert_num_queries(3):  # the market with its event, its tags, its siblings
        response = APIClient().get(f"/api/markets/{parolin.market_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["event"] == {
        "event_id": "kalshi-kxnewpope-70", "title": "Who will the next Pope be?", "slug": "kxnewpope-70",
        "series": "kalshi-kxnewpope",
    }
    assert body["event_siblings"] == [
        {"market_id": "pope-tagle", "title": "Luis Antonio Tagle", "probability": 0.11, "status": "open"},
        {"market_id": "pope-aveline", "title": "Jean-Marc Aveline", "probability": 0.07, "status": "open"},
        {"market_id": "pope-zuppi", "title": "Matteo Zuppi", "probability": 0.07, "status": "closed"},
    ]  # the market itself is not its own sibling; a tie goes by market_id


def test_event_siblings_are_capped_at_the_likeliest(pope):
    market = MarketFactory(event=pope, probability=0.5)
    for n in range(EVENT_SIBLINGS_MAX + 3):
        MarketFactory(market_id=f"outcome-{n:02d}", event=pope, probability=n / 100)
    siblings = APIClient().get(f"/api/markets/{market.market_id}").json()["event_siblings"]
    assert len(siblings) == EVENT_SIBLINGS_MAX == 50
    assert siblings[0]["market_id"] == f"outcome-{EVENT_SIBLINGS_MAX + 2:02d}"
    assert siblings[-1]["market_id"] == "outcome-03"  # the three least likely are left out
    probabilities = [s["probability"] for s in siblings]
    assert probabilities == sorted(probabilities, reverse=True)


def test_a_market_without_an_event_gives_null_and_no_siblings(django_assert_num_queries):
    market = MarketFactory()
    MarketFactory.create_batch(2)
    with django_assert_num_queries(2):  # no sibling query without an event
        body = APIClient().get(f"/api/markets/{market.market_id}").json()
    assert body["event"] is None
    assert body["event_siblings"] == []


def test_the_only_market_of_an_event_has_no_siblings(pope):
    market = MarketFactory(event=pope)
    body = APIClient().get(f"/api/markets/{market.market_id}").json()
    assert body["event"]["event_id"] == pope.event_id
    assert body["event_siblings"] == []


def test_patch_answers_with_the_event_and_the_siblings_too(trading_backend, pope):
    market = MarketFactory(event=pope, probability=0.2)
    MarketFactory(market_id="other-outcome", event=pope, probability=0.7)
    response = trading_backend.patch(f"/api/markets/{market.market_id}", {"probability": 0.3}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["event"]["event_id"] == pope.event_id
    assert [s["market_id"] for s in body["event_siblings"]] == ["other-outcome"]


def test_the_list_gives_each_markets_event_without_siblings(pope, django_assert_num_queries):
    MarketFactory.create_batch(3, event=pope)
    MarketFactory()
    with django_assert_num_queries(3):  # count, page with the events joined, tags
        results = APIClient().get("/api/markets").json()["results"]
    assert sorted(str(r["event"] and r["event"]["event_id"]) for r in results) == [
        "None", pope.event_id, pope.event_id, pope.event_id]
    assert all("event_siblings" not in r for r in results)
