"""Raw event admin: read-only, exact indexed search, no unbounded COUNT(*), fixed query counts."""
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.admin import site
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from feedproject.admin_kit import CappedCountPaginator
from markets.tests.factories import MarketFactory
from tracking.models import Impression, Interaction, MarketActivity, MarketActivityUser, RejectedEvent, ServedItem

pytestmark = pytest.mark.django_db

MODELS = [Impression, Interaction, RejectedEvent, MarketActivity, MarketActivityUser, ServedItem]


def changelist(model):
    return reverse(f"admin:tracking_{model._meta.model_name}_changelist")


def change(obj):
    return reverse(f"admin:tracking_{obj._meta.model_name}_change", args=(obj.pk,))


def make_rows(market, user_key="u:1", n=1, at=None):
    at = at or timezone.now()
    for i in range(n):
        Impression.objects.create(
            event_id=uuid.uuid4(), user_key=user_key, market=market, surface="home", section="grid",
            position=i, shown_at=at, received_at=at,
        )
        Interaction.objects.create(
            event_id=uuid.uuid4(), user_key=user_key, market=market, event_type="click",
            occurred_at=at, received_at=at, dwell_ms=4000, geo_country="IL",
        )
        RejectedEvent.objects.create(
            received_at=at, endpoint="track", user_key=user_key, event_id=str(uuid.uuid4()),
            field="event_type", reason="unknown event_type 'wink'", payload={"event_type": "wink"},
        )
        bucket = at.replace(second=0, microsecond=0) - timedelta(minutes=5 * i)
        MarketActivity.objects.create(market=market, scope="global", bucket_start=bucket, views=3, clicks=1)
        MarketActivityUser.objects.create(market=market, scope="IL", bucket_start=bucket, user_key=user_key)
        ServedItem.objects.create(
            feed_request_id=uuid.uuid4(), market=market, user_key=user_key, surface="home", served_at=at,
            config_version=1, position=i, pool="exploration", reason="exploration", score=0.2,
            components={"final": 0.2}, propensity=0.05,
        )


@pytest.fixture
def rows():
    market = MarketFactory(market_id="will-it-rain")
    make_rows(market)
    return market


@pytest.mark.parametrize("model", MODELS)
def test_changelist_and_change_page_render(admin_client, rows, model):
    assert admin_client.get(changelist(model)).status_code == 200
    assert admin_client.get(change(model.objects.first())).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_raw_log_admins_refuse_add_and_change(admin_client, rows, model):
    obj = model.objects.first()
    before = model_to_dict(obj)
    add_url = reverse(f"admin:tracking_{model._meta.model_name}_add")
    assert admin_client.get(add_url).status_code == 403
    assert admin_client.post(add_url, {"user_key": "u:evil"}).status_code == 403
    response = admin_client.post(change(obj), {"user_key": "u:evil", "scope": "XX", "views": "999"})
    assert response.status_code == 403
    assert model_to_dict(model.objects.get(pk=obj.pk)) == before
    assert model.objects.count() == 1
    page = admin_client.get(change(obj))
    assert page.context["has_change_permission"] is False
    assert page.context["adminform"].form.fields == {}  # every field is shown read-only


@pytest.mark.parametrize("model", MODELS)
def test_only_superusers_may_delete_raw_rows(rf, django_user_model, model):
    staff = django_user_model.objects.create_user("ops", password="x", is_staff=True)
    request = rf.get("/")
    request.user = staff
    model_admin = site._registry[model]
    assert model_admin.has_delete_permission(request) is False
    assert model_admin.has_add_permission(request) is False
    staff.is_superuser = True
    assert model_admin.has_delete_permission(request) is True
    assert model_admin.has_change_permission(request) is False


def test_a_superuser_deletes_selected_rows_of_one_page_but_not_across_all_pages(admin_client, rows):
    make_rows(rows, n=3, at=timezone.now() - timedelta(hours=1))
    [first, *_] = Impression.objects.order_by("pk")
    url = changelist(Impression)
    response = admin_client.post(
        url, {"action": "delete_selected", "_selected_action": [first.pk], "select_across": "1", "index": "0"}
    )
    assert response.status_code == 302
    assert Impression.objects.count() == 4
    response = admin_client.post(
        url, {"action": "delete_selected", "_selected_action": [first.pk], "select_across": "0", "post": "yes"}
    )
    assert response.status_code == 302
    assert not Impression.objects.filter(pk=first.pk).exists()
    assert Impression.objects.count() == 3


def results(client, model, **params):
    response = client.get(changelist(model), params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_search_matches_user_key_event_id_and_market_slug_exactly(admin_client, rows):
    other = MarketFactory(market_id="will-it-snow")
    make_rows(other, user_key="u:2")
    impression = Impression.objects.filter(user_key="u:2").get()

    assert {i.user_key for i in results(admin_client, Impression, q="u:1")} == {"u:1"}
    assert {i.market.market_id for i in results(admin_client, Impression, q="will-it-snow")} == {"will-it-snow"}
    assert results(admin_client, Impression, q=str(impression.event_id)) == [impression]
    assert results(admin_client, Impression, q="u:") == []  # exact, not contains
    assert results(admin_client, Interaction, q="not-a-uuid-nor-anything") == []
    assert {a.user_key for a in results(admin_client, MarketActivityUser, q="u:2")} == {"u:2"}
    assert len(results(admin_client, MarketActivity, q="will-it-rain")) == 1
    assert len(results(admin_client, RejectedEvent, q="wink")) == 2
    served = ServedItem.objects.filter(user_key="u:2").get()
    assert results(admin_client, ServedItem, q=str(served.feed_request_id)) == [served]
    assert {s.user_key for s in results(admin_client, ServedItem, q="u:2")} == {"u:2"}


def test_search_by_market_slug_filters_on_the_foreign_key_without_joining_the_log(admin_client, rows):
    with CaptureQueriesContext(connection) as ctx:
        admin_client.get(changelist(Interaction), {"q": "will-it-rain"})
    log_queries = [q["sql"] for q in ctx.captured_queries if 'FROM "tracking_interaction"' in q["sql"]]
    assert log_queries
    for sql in log_queries:
        assert "UPPER(" not in sql and "LIKE" not in sql


def test_filters_by_event_type_section_surface_scope_and_recent_window(admin_client, rows):
    old = timezone.now() - timedelta(days=3)
    Interaction.objects.create(
        event_id=uuid.uuid4(), user_key="u:9", market=rows, event_type="hide", occurred_at=old, received_at=old
    )
    assert {i.event_type for i in results(admin_client, Interaction, event_type="hide")} == {"hide"}
    assert {i.user_key for i in results(admin_client, Interaction, occurred_at_within="24h")} == {"u:1"}
    assert len(results(admin_client, Interaction, occurred_at_within="7d")) == 2
    assert len(results(admin_client, Impression, section__exact="grid", surface="home")) == 1
    assert results(admin_client, Impression, surface="category") == []
    assert len(results(admin_client, MarketActivityUser, scope_kind="country")) == 1
    assert results(admin_client, MarketActivityUser, scope_kind="global") == []
    assert len(results(admin_client, RejectedEvent, field="event_type", received_at_within="1h")) == 1


@pytest.mark.parametrize("model", MODELS)
def test_changelist_query_count_does_not_grow_with_rows(admin_client, model):
    market = MarketFactory()
    make_rows(market, n=2)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(changelist(model)).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for i in range(10):
        make_rows(MarketFactory(), user_key=f"u:{i + 10}", n=2)
    assert count() == few


@pytest.mark.parametrize("model", MODELS)
def test_changelist_never_counts_the_whole_table(admin_client, rows, model):
    with CaptureQueriesContext(connection) as ctx:
        admin_client.get(changelist(model), {"_facets": ""})  # "Show counts" is off for logs
    counts = [q["sql"] for q in ctx.captured_queries if re.search(r"COUNT\(", q["sql"], re.I)]
    assert counts, "the paginator counts once"
    for sql in counts:
        assert "LIMIT" in sql.upper(), sql


def test_past_the_cap_the_list_says_more_than(admin_client, rows, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "CAP", 2)
    make_rows(rows, n=3, at=timezone.now() - timedelta(hours=1))
    response = admin_client.get(changelist(Impression))
    assert "more than 2 impressions" in response.content.decode()
    monkeypatch.setattr(CappedCountPaginator, "CAP", 100)
    response = admin_client.get(changelist(Impression))
    assert "4 impressions" in response.content.decode()
    assert "more than" not in response.content.decode()
