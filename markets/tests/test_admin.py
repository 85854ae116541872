"""Catalog admin: pages render, lists stay at a fixed number of queries, boosts validate and record their author."""
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from markets.models import EditorialBoost, Market, MarketSnapshot, MarketVelocity
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
    return market


def test_every_catalog_changelist_and_change_page_renders(admin_client, catalog):
    objects = [
        catalog,
        catalog.tags.first(),
        catalog.boosts.get(),
        catalog.snapshots.get(),
        catalog.velocities.get(),
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


@pytest.mark.parametrize("model", [MarketSnapshot, MarketVelocity])
def test_server_written_catalog_tables_refuse_add_and_change(admin_client, catalog, model):
    obj = model.objects.get()
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
