"""One name for the country: `country` on every endpoint, the old names (`geo`, `geo_country`, `scope`) kept as
deprecated aliases through feedproject.fields.resolve_alias; an alias that disagrees with `country` is an error
naming `country` (docs/api-errors.md, "One name for the country")."""
import pytest
from rest_framework.test import APIClient

from feedproject.fields import AliasConflict, resolve_alias
from ingestion.tests.conftest import make_event
from personalization.models import UserProfile
from tracking.models import Interaction
from tracking.tests.test_trending_api import now, scored  # noqa: F401  (fixtures: IL trending)

pytestmark = pytest.mark.django_db


def test_resolve_alias_takes_the_name_or_an_alias_and_refuses_a_disagreement():
    assert resolve_alias({"country": "IL"}, "country", ("geo",)) == "IL"
    assert resolve_alias({"geo": "de"}, "country", ("geo",)) == "de"
    assert resolve_alias({"country": "il", "geo": "IL"}, "country", ("geo",)) == "il"  # case is no conflict
    assert resolve_alias({"country": "", "geo": None}, "country", ("geo",)) is None
    with pytest.raises(AliasConflict) as conflict:
        resolve_alias({"country": "IL", "geo": "DE"}, "country", ("geo",))
    assert conflict.value.name == "country" and "geo" in conflict.value.message


# ----- /api/feed and /api/rank: country, alias geo ----------------------------------------------------------


@pytest.fixture
def countries_ranked(monkeypatch):
    """The `country` each feed_build / markets_rank call was given by the views (the real functions still run)."""
    import personalization.apis as apis

    seen = []
    for name in ("feed_build", "markets_rank"):
        real = getattr(apis, name)

        def spy(*args, _real=real, **kwargs):
            seen.append(kwargs["country"])
            return _real(*args, **kwargs)

        monkeypatch.setattr(apis, name, spy)
    return seen


@pytest.mark.parametrize("query, country", [("country=IL", "IL"), ("geo=il", "il"), ("geo=il&country=IL", "IL"),
                                            ("", "")])
def test_feed_takes_country_or_its_alias_geo(scored, countries_ranked, query, country):  # noqa: F811
    response = APIClient().get(f"/api/feed?{query}&limit=5")
    assert response.status_code == 200, response.content
    assert countries_ranked == [country]  # upper-cased downstream (personalization.selectors.user_data_load)


@pytest.mark.parametrize("url", ["/api/feed?country=IL&geo=DE", "/api/feed?geo=IL&country=DE"])
def test_feed_a_geo_disagreeing_with_country_is_a_400_naming_country(scored, url):  # noqa: F811
    response = APIClient().get(url)
    assert response.status_code == 400
    assert list(response.json()) == ["country"] and "geo" in response.json()["country"][0]


def test_feed_a_bad_country_is_a_400_naming_it(db):
    response = APIClient().get("/api/feed?country=ISR")
    assert response.status_code == 400 and list(response.json()) == ["country"]


def test_rank_takes_country_and_geo_and_refuses_them_disagreeing(scored, countries_ranked):  # noqa: F811
    api = APIClient()
    ids = ["hot", "warm", "thin-in-israel"]
    for body in ({"country": "IL"}, {"geo": "IL"}, {"country": "IL", "geo": "il"}):
        assert api.post("/api/rank", {"market_ids": ids, **body}, format="json").status_code == 200
    assert countries_ranked == ["IL", "IL", "IL"]
    conflict = api.post("/api/rank", {"market_ids": ids, "country": "IL", "geo": "DE"}, format="json")
    assert conflict.status_code == 400 and list(conflict.json()) == ["country"]


# ----- /api/track: country, alias geo_country, per event and per batch ------------------------------------------


def test_an_event_country_or_its_alias_geo_country_is_stored_as_the_country(nba_market):
    api = APIClient()
    first, second = make_event(country="il"), make_event(geo_country="DE")
    response = api.post("/api/track", {"events": [first, second]}, format="json")
    assert response.json()["accepted"] == 2, response.json()
    stored = dict(Interaction.objects.values_list("event_id", "geo_country"))
    assert sorted(stored.values()) == ["DE", "IL"]


def test_an_event_whose_geo_country_disagrees_with_country_is_rejected_on_country(nba_market):
    response = APIClient().post("/api/track", {"events": [make_event(country="IL", geo_country="DE"),
                                                          make_event(country="IL", geo_country="il")]}, format="json")
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["status"] == "rejected" and first["field"] == "country" and "geo_country" in first["reason"]
    assert second["status"] == "accepted"


@pytest.mark.parametrize("batch", [{"country": "il"}, {"geo_country": "IL"}, {"country": "IL", "geo_country": "il"}])
def test_the_batch_country_or_its_alias_is_every_events_default(nba_market, batch):
    api = APIClient()
    response = api.post("/api/track", {**batch, "events": [make_event(), make_event(country="FR")]}, format="json")
    assert response.json()["accepted"] == 2, response.json()
    assert sorted(Interaction.objects.values_list("geo_country", flat=True)) == ["FR", "IL"]
    assert UserProfile.objects.get().geo_country in {"FR", "IL"}


def test_a_batch_geo_country_disagreeing_with_country_is_a_400_naming_country(nba_market):
    response = APIClient().post("/api/track", {"country": "IL", "geo_country": "DE", "events": [make_event()]},
                                format="json")
    assert response.status_code == 400 and list(response.json()) == ["country"]
    assert not Interaction.objects.exists()


# ----- /api/trending: country, alias scope ----------------------------------------------------------------------


def trending(url):
    response = APIClient().get(url)
    assert response.status_code == 200, response.content
    body = response.json()
    return body["country"], body["scope"], [r["rank"] for r in body["results"]], body["results"]


def test_trending_country_and_its_alias_scope_give_the_same_list(scored):  # noqa: F811
    by_country = trending("/api/trending?country=il")
    assert by_country[0] == "IL" and by_country[1] == "IL" and by_country[3]
    assert trending("/api/trending?scope=IL") == by_country
    assert trending("/api/trending?scope=il&country=IL") == by_country
    everywhere = trending("/api/trending")
    assert everywhere[:2] == (None, "global") and len(everywhere[3]) > len(by_country[3])
    assert trending("/api/trending?scope=global") == everywhere


@pytest.mark.parametrize("query", ["country=IL&scope=DE", "country=IL&scope=global"])
def test_trending_a_scope_disagreeing_with_country_is_a_400_naming_country(scored, query):  # noqa: F811
    response = APIClient().get(f"/api/trending?{query}")
    assert response.status_code == 400 and list(response.json()) == ["country"]


# ----- the schema: country documented, the aliases deprecated ----------------------------------------------------


def test_the_schema_documents_country_and_marks_every_alias_deprecated():
    schema = APIClient().get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]

    def query(path):
        return {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}

    for path, alias in (("/api/feed", "geo"), ("/api/trending", "scope")):
        parameters = query(path)
        assert not parameters["country"].get("deprecated"), path
        assert parameters[alias]["deprecated"] is True, path
    aliases = (("RankRequest", "geo"), ("TrackBatch", "geo_country"), ("InteractionEvent", "geo_country"))
    for component, alias in aliases:
        properties = components[component]["properties"]
        assert "country" in properties and not properties["country"].get("deprecated"), component
        assert properties[alias]["deprecated"] is True, component
