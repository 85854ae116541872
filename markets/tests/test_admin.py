"""Catalog admin: pages render, lists stay at a fixed number of queries, boosts validate and record their author."""
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from markets.models import (
    CategoryAlias,
    EditorialBoost,
    Event,
    Market,
    MarketSnapshot,
    MarketVelocity,
    TrendingForecast,
)
from markets.tests.factories import EditorialBoostFactory, MarketFactory, MarketSnapshotFactory, TagFactory

pytestmark = pytest.mark.django_db


def changelist(model):
    return reverse(f"admin:markets_{model._meta.model_name}_changelist")


def change(obj):
    return reverse(f"admin:markets_{obj._meta.model_name}_change", args=(obj.pk,))


def add(model):
    return reverse(f"admin:markets_{model._meta.model_name}_add")


def datetime_fields(prefix, value):
    return {f"{prefix}_0": value.strftime("%Y-%m-%d"), f"{prefix}_1": value.strftime("%H:%M:%S")}


def boost_post(market, **overrides):
    now = timezone.now()
    data = {
        "market": market.pk,
        "value": "0.5",
        "note": "front page push",
        "pinned_slot": "",
        **datetime_fields("starts_at", now - timedelta(hours=1)),
        **datetime_fields("ends_at", now + timedelta(days=1)),
    }
    data.update(overrides)
    return data


@pytest.fixture
def catalog():
    tags = [TagFactory(label="NBA"), TagFactory(label="Elections")]
    market = MarketFactory(tags=tags)
    EditorialBoostFactory(market=market)
    MarketSnapshotFactory(market=market)
    MarketVelocity.objects.create(market=market, scope="global", computed_at=timezone.now(), trending_score=0.7)
    TrendingForecast.objects.create(fitted_at=timezone.now(), used=True, intercept=0.1, usual=0.3, day=0.6,
                                    deviation=0.2, days=7, rows=700, held_out_error=0.4, reasoned_error=0.5)
    TrendingForecast.objects.create(fitted_at=timezone.now(), used=False, days=2, rows=200,
                                    note="fewer than 3 days of history with their next day")
    return market


def test_every_catalog_changelist_and_change_page_renders(admin_client, catalog):
    objects = [
        catalog,
        catalog.tags.first(),
        catalog.boosts.get(),
        catalog.snapshots.get(),
        catalog.velocities.get(),
        *TrendingForecast.objects.all(),
    ]
    for obj in objects:
        assert admin_client.get(changelist(type(obj))).status_code == 200, type(obj)
        assert admin_client.get(change(obj)).status_code == 200, type(obj)
    for model in (Market, EditorialBoost):
        assert admin_client.get(add(model)).status_code == 200


def test_every_catalog_list_filter_and_search_renders(admin_client, catalog):
    queries = [
        (Market, {"status__exact": "open", "q": "nba"}),
        (Market, {"q": catalog.market_id, "category": "Sports"}),
        (EditorialBoost, {"window": "active", "q": catalog.market_id}),
        (EditorialBoost, {"window": "upcoming"}),
        (EditorialBoost, {"window": "expired"}),
        (MarketSnapshot, {"taken_at_within": "24h", "q": catalog.market_id}),
        (MarketVelocity, {"scope_kind": "global", "q": "global"}),
    ]
    for model, params in queries:
        response = admin_client.get(changelist(model), params)
        assert response.status_code == 200, (model, params)
        assert "?e=1" not in response.get("Location", "")


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_market_changelist_query_count_does_not_grow_with_markets(admin_client):
    tags = [TagFactory(label=f"Topic {i}") for i in range(4)]

    def markets(n):
        for _ in range(n):
            market = MarketFactory(tags=tags[:2])
            EditorialBoostFactory(market=market)

    markets(3)
    with_3 = count_queries(admin_client, changelist(Market))
    markets(27)
    with_30 = count_queries(admin_client, changelist(Market))
    assert with_30 == with_3


def test_market_changelist_shows_the_tags_from_one_prefetch(admin_client):
    MarketFactory(tags=[TagFactory(label="Playoffs"), TagFactory(label="NBA")])
    MarketFactory(tags=[TagFactory(label="Oscars")])
    with CaptureQueriesContext(connection) as ctx:
        response = admin_client.get(changelist(Market))
    assert "NBA, Playoffs" in response.content.decode()
    assert "Oscars" in response.content.decode()
    tag_queries = [q["sql"] for q in ctx.captured_queries if "markets_market_tags" in q["sql"]]
    assert len(tag_queries) == 1


def test_boost_changelist_and_market_page_query_counts_do_not_grow(admin_client, django_user_model):
    editor = django_user_model.objects.create_user("editor1", password="x", is_staff=True)
    market = MarketFactory()
    EditorialBoostFactory(market=market, created_by=editor)
    boost_list_1 = count_queries(admin_client, changelist(EditorialBoost))
    market_page_1 = count_queries(admin_client, change(market))
    for i in range(10):
        other = django_user_model.objects.create_user(f"editor-{i}", password="x", is_staff=True)
        EditorialBoostFactory(market=market, created_by=other)
        EditorialBoostFactory(created_by=other)
    assert count_queries(admin_client, changelist(EditorialBoost)) == boost_list_1
    assert count_queries(admin_client, change(market)) == market_page_1


def test_boost_created_in_admin_records_its_creator(admin_client, admin_user):
    market = MarketFactory()
    response = admin_client.post(add(EditorialBoost), boost_post(market, surfaces=["home"]))
    assert response.status_code == 302, response.context["adminform"].form.errors
    boost = EditorialBoost.objects.get()
    assert boost.created_by == admin_user
    assert boost.surfaces == ["home"]
    assert boost.value == 0.5


def test_a_saved_boost_is_named_by_its_market_and_its_page_says_where_and_when_it_shows(admin_client):
    market = MarketFactory(market_id="lebron-mvp")
    response = admin_client.post(add(EditorialBoost), {**boost_post(market, surfaces=["home"]), "value": "0.7",
                                                        "pinned_slot": "0"}, follow=True)
    assert "lebron-mvp +0.70" in response.content.decode()
    page = admin_client.get(change(EditorialBoost.objects.get())).content.decode()
    assert "At position 0 of the feed on home" in page and "The caps still apply, pin or not" in page


def test_editing_a_boost_keeps_its_original_creator(admin_client, django_user_model):
    author = django_user_model.objects.create_user("author", password="x", is_staff=True)
    boost = EditorialBoostFactory(created_by=author)
    response = admin_client.post(change(boost), boost_post(boost.market, value="-0.25"))
    assert response.status_code == 302
    boost.refresh_from_db()
    assert boost.created_by == author
    assert boost.value == -0.25


def test_a_boost_window_that_ends_before_it_starts_is_refused_with_a_clear_message(admin_client):
    market = MarketFactory()
    now = timezone.now()
    data = boost_post(
        market,
        **datetime_fields("starts_at", now + timedelta(days=1)),
        **datetime_fields("ends_at", now),
    )
    response = admin_client.post(add(EditorialBoost), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["ends_at"] == ["The boost must end after it starts: “ends at” must be later than “starts at”."]
    assert "Constraint" not in response.content.decode()
    assert not EditorialBoost.objects.exists()


@pytest.mark.parametrize("value, word", [("1.5", "above 1"), ("-2", "below -1")])
def test_a_boost_value_outside_minus_one_to_one_is_refused_with_a_clear_message(admin_client, value, word):
    response = admin_client.post(add(EditorialBoost), boost_post(MarketFactory(), value=value))
    assert response.status_code == 200
    [message] = response.context["adminform"].form.errors["value"]
    assert message.startswith("The boost value must be between -1 and 1")
    assert word in message
    assert not EditorialBoost.objects.exists()


def test_boosts_added_inline_on_the_market_page_record_their_creator(admin_client, admin_user):
    market = MarketFactory()
    now = timezone.now()
    page = admin_client.get(change(market))
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data["tags"] = []
    data.update(
        {
            "boosts-TOTAL_FORMS": "1",
            "boosts-INITIAL_FORMS": "0",
            "boosts-MIN_NUM_FORMS": "0",
            "boosts-MAX_NUM_FORMS": "1000",
            "boosts-0-value": "0.3",
            "boosts-0-note": "inline",
            **datetime_fields("boosts-0-starts_at", now),
            **datetime_fields("boosts-0-ends_at", now + timedelta(hours=6)),
        }
    )
    for key in [k for k, v in data.items() if v is None]:
        data[key] = ""
    response = admin_client.post(change(market), data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    boost = market.boosts.get()
    assert boost.created_by == admin_user
    assert boost.note == "inline"


def test_boost_list_shows_whether_each_boost_is_active_now(admin_client):
    now = timezone.now()
    EditorialBoostFactory(market=MarketFactory(market_id="live"), starts_at=now - timedelta(hours=1))
    EditorialBoostFactory(
        market=MarketFactory(market_id="later"), starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2)
    )
    EditorialBoostFactory(
        market=MarketFactory(market_id="over"), starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1)
    )
    response = admin_client.get(changelist(EditorialBoost))
    rows = {row.market.market_id: row for row in response.context["cl"].result_list}
    model_admin = response.context["cl"].model_admin
    assert {key: model_admin.is_active_now(row) for key, row in rows.items()} == {
        "live": True,
        "later": False,
        "over": False,
    }

    def filtered(window):
        result = admin_client.get(changelist(EditorialBoost), {"window": window}).context["cl"].result_list
        return {boost.market.market_id for boost in result}

    assert filtered("active") == {"live"}
    assert filtered("upcoming") == {"later"}
    assert filtered("expired") == {"over"}


def test_market_created_in_admin_gets_its_tags(admin_client):
    tags = [TagFactory(label="NBA"), TagFactory(label="Finals")]
    response = admin_client.get(add(Market))
    assert response.context["adminform"].form["created_at"].value() is not None
    now = timezone.now()
    data = {
        "market_id": "nba-finals-2027",
        "title": "Who wins the 2027 NBA Finals?",
        "category": "Sports",
        "tags": [tag.pk for tag in tags],
        "status": "open",
        "probability": "0.4",
        "volume_24h": "0",
        "volume_total": "0",
        "participant_count": "0",
        **datetime_fields("created_at", now),
        "boosts-TOTAL_FORMS": "0",
        "boosts-INITIAL_FORMS": "0",
        "boosts-MIN_NUM_FORMS": "0",
        "boosts-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(add(Market), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    market = Market.objects.get(market_id="nba-finals-2027")
    assert set(market.tags.values_list("label", flat=True)) == {"NBA", "Finals"}


def test_trading_state_of_an_existing_market_is_read_only(admin_client):
    market = MarketFactory(probability=0.3)
    response = admin_client.get(change(market))
    form = response.context["adminform"].form
    for name in ("market_id", "probability", "volume_24h", "volume_total", "participant_count", "created_at"):
        assert name not in form.fields
    assert "title" in form.fields and "tags" in form.fields


def test_markets_cannot_be_deleted_from_admin(admin_client):
    market = MarketFactory()
    response = admin_client.post(reverse("admin:markets_market_delete", args=(market.pk,)), {"post": "yes"})
    assert response.status_code == 403
    assert Market.objects.filter(pk=market.pk).exists()


def test_market_fields_of_other_admins_use_autocomplete_not_a_select_of_every_market(admin_client):
    MarketFactory.create_batch(5)
    response = admin_client.get(add(EditorialBoost))
    html = str(response.context["adminform"].form["market"])
    assert "admin-autocomplete" in html
    assert html.count("<option") <= 1


@pytest.mark.parametrize("model", [MarketSnapshot, MarketVelocity, TrendingForecast])
def test_server_written_catalog_tables_refuse_add_and_change(admin_client, catalog, model):
    obj = model.objects.first()
    assert admin_client.get(add(model)).status_code == 403
    response = admin_client.post(change(obj), {"probability": "0.99", "scope": "XX"})
    assert response.status_code == 403


def test_non_superuser_staff_cannot_delete_server_written_rows():
    user = get_user_model().objects.create_user("ops", password="x", is_staff=True)
    from django.contrib.admin import site
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    assert site._registry[MarketSnapshot].has_delete_permission(request) is False
    user.is_superuser = True
    assert site._registry[MarketSnapshot].has_delete_permission(request) is True


def test_an_editors_boost_reaches_the_in_memory_catalog(admin_client, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from markets.services import CATALOG_VERSION_KEY

    market = MarketFactory()
    before = cache.get(CATALOG_VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(add(EditorialBoost), boost_post(market, surfaces=["home"]))
    assert response.status_code == 302
    assert cache.get(CATALOG_VERSION_KEY) not in (None, before)


# --- Events and category aliases ----------------------------------------------------------------


def form_data(response):
    """The POST a change page would send as it stands: the main form and every inline's forms."""
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for sub in formset.forms:
            for name in sub.fields:
                data[sub.add_prefix(name)] = sub[name].value()
    return {key: ("" if value is None else value) for key, value in data.items()}


@pytest.fixture
def pope():
    event = Event.objects.create(
        event_id="kalshi-kxnewpope-70", title="Who will the next Pope be?", slug="kxnewpope-70",
        series="kalshi-kxnewpope",
    )
    MarketFactory(market_id="pope-parolin", title="Pietro Parolin", probability=0.06, event=event)
    MarketFactory(market_id="pope-pizzaballa", title="Pierbattista Pizzaballa", probability=0.07, event=event)
    return event


def test_the_event_list_shows_market_counts_and_searches_title_and_event_id(admin_client, pope):
    Event.objects.create(event_id="predictit-7589", title="House seats in 2026")
    response = admin_client.get(changelist(Event))
    assert response.status_code == 200
    counts = {e.event_id: e.market_count for e in response.context["cl"].result_list}
    assert counts == {"kalshi-kxnewpope-70": 2, "predictit-7589": 0}

    def found(**params):
        return {e.event_id for e in admin_client.get(changelist(Event), params).context["cl"].result_list}

    assert found(q="pope") == {"kalshi-kxnewpope-70"}
    assert found(q="predictit-75") == {"predictit-7589"}
    assert found(q="kalshi-kxnewpope") == {"kalshi-kxnewpope-70"}  # the series' exact key, or the id's part
    assert found(series="*") == {"kalshi-kxnewpope-70"}
    assert found(series="-") == {"predictit-7589"}
    assert found(series="kalshi-kxnewpope") == {"kalshi-kxnewpope-70"}
    filters = response.context["cl"].filter_specs
    assert ("kalshi-kxnewpope", "kalshi-kxnewpope (1)") in filters[0].lookup_choices


def test_the_event_list_query_count_does_not_grow_with_events(admin_client):
    def events(n, start):
        for i in range(start, start + n):
            event = Event.objects.create(event_id=f"kalshi-e-{i}", title=f"Event {i}", series=f"kalshi-s-{i % 3}")
            MarketFactory.create_batch(2, event=event)

    events(3, 0)
    with_3 = count_queries(admin_client, changelist(Event))
    events(27, 3)
    assert count_queries(admin_client, changelist(Event)) == with_3


def test_the_event_page_lists_its_markets_likeliest_first_and_links_to_them(admin_client, pope):
    response = admin_client.get(change(pope))
    assert response.status_code == 200
    [inline] = response.context["inline_admin_formsets"]
    assert [f.instance.market_id for f in inline.formset.forms] == ["pope-pizzaballa", "pope-parolin"]
    html = response.content.decode()
    assert reverse("admin:markets_market_change", args=(Market.objects.get(market_id="pope-parolin").pk,)) in html
    assert f"{changelist(Market)}?q=kalshi-kxnewpope-70" in html
    assert "event_id" not in response.context["adminform"].form.fields  # the importers' key
    assert admin_client.get(add(Event)).status_code == 200


def test_an_events_title_slug_and_series_are_edited_and_its_markets_stay(admin_client, pope):
    data = form_data(admin_client.get(change(pope)))
    data.update(title="Who will be the next Pope?", slug="next-pope", series="kalshi-popes")
    response = admin_client.post(change(pope), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    pope.refresh_from_db()
    assert (pope.event_id, pope.title, pope.slug, pope.series) == (
        "kalshi-kxnewpope-70", "Who will be the next Pope?", "next-pope", "kalshi-popes")
    assert pope.markets.count() == 2


def test_the_market_page_edits_its_event_through_autocomplete(admin_client, pope):
    market = MarketFactory(market_id="loose")
    response = admin_client.get(change(market))
    html = str(response.context["adminform"].form["event"])
    assert "admin-autocomplete" in html
    data = form_data(response)
    data["tags"] = []
    data["event"] = pope.pk
    response = admin_client.post(change(market), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    market.refresh_from_db()
    assert market.event == pope
    found = admin_client.get(changelist(Market), {"q": "kalshi-kxnewpope-70"}).context["cl"].result_list
    assert {m.market_id for m in found} == {"loose", "pope-parolin", "pope-pizzaballa"}
    autocomplete = admin_client.get(
        reverse("admin:autocomplete"),
        {"term": "pope", "app_label": "markets", "model_name": "market", "field_name": "event"},
    )
    assert [r["text"] for r in autocomplete.json()["results"]] == ["Who will the next Pope be?"]


def test_category_aliases_are_listed_and_edited_in_the_list(admin_client):
    economics = CategoryAlias.objects.create(label="Economics", category="Business")
    CategoryAlias.objects.create(label="Transportation", category="World")
    response = admin_client.get(changelist(CategoryAlias))
    assert response.status_code == 200
    model_admin = response.context["cl"].model_admin
    assert model_admin.default_mapping(economics) == "Business"
    economics.category = "World"
    assert model_admin.default_mapping(economics) == "Business (overridden)"
    assert admin_client.get(change(economics)).status_code == 200
    assert admin_client.get(add(CategoryAlias)).status_code == 200

    rows = list(CategoryAlias.objects.order_by("label"))
    data = {
        "form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "2", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
        "form-0-id": rows[0].pk, "form-0-category": "Science & Tech",
        "form-1-id": rows[1].pk, "form-1-category": "Science & Tech",
        "_save": "Save",
    }
    response = admin_client.post(changelist(CategoryAlias), data)
    assert response.status_code == 302
    assert set(CategoryAlias.objects.values_list("category", flat=True)) == {"Science & Tech"}


def test_a_category_alias_label_that_matches_another_is_refused(admin_client):
    CategoryAlias.objects.create(label="Economics", category="Business")
    response = admin_client.post(add(CategoryAlias), {"label": " economics-", "category": "World"})
    assert response.status_code == 200
    [message] = response.context["adminform"].form.errors["label"]
    assert "“Economics” is already this label" in message
    response = admin_client.post(add(CategoryAlias), {"label": "--", "category": "World"})
    assert response.context["adminform"].form.errors["label"]
    assert CategoryAlias.objects.count() == 1


def test_an_alias_added_in_the_admin_maps_the_next_import(admin_client, tmp_path):
    import io
    import json

    from django.core.management import call_command

    response = admin_client.post(add(CategoryAlias), {"label": "Transportation", "category": "Science & Tech"})
    assert response.status_code == 302
    event = {
        "ticker": "KXHYPERLOOP-30", "series_ticker": "KXHYPERLOOP", "title": "Hyperloop by 2030?",
        "category": "Transportation",
        "markets": [{"id": "h1", "title": "Hyperloop by 2030?", "status": "active", "last_price": 12}],
    }
    path = tmp_path / "kalshi.json"
    path.write_text(json.dumps({"events": [event]}))
    call_command("import_markets", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert Market.objects.get(market_id="kalshi-h1").category == "Science & Tech"


def test_the_event_page_query_count_does_not_grow_with_its_markets(admin_client, pope):
    with_2 = count_queries(admin_client, change(pope))
    MarketFactory.create_batch(20, event=pope)
    assert count_queries(admin_client, change(pope)) == with_2


def test_an_editors_status_change_goes_through_the_state_path(rf, admin_user):
    from django.contrib import admin as django_admin

    from markets.admin import MarketAdmin

    market = MarketFactory(status="open", probability=0.3, title="Old title")
    market.status, market.title = "closed", "New title"

    class Form:
        changed_data = ["status", "title"]
        initial = {"status": "open"}

    request = rf.post("/")
    request.user = admin_user
    MarketAdmin(Market, django_admin.site).save_model(request, market, Form(), change=True)
    market.refresh_from_db()
    assert (market.status, market.title) == ("closed", "New title")
    assert market.state_at is not None
    snapshot = MarketSnapshot.objects.get(market=market)
    assert (snapshot.taken_at, snapshot.probability) == (market.state_at, 0.3)
