"""The admin's "preview a user's feed" page."""
import pytest
from django.urls import reverse
from django.utils import timezone

from ingestion.services import INTERACTION, events_ingest
from ingestion.tests.conftest import make_event
from markets.tests.factories import MarketFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_an_editor_sees_the_users_feed_with_pools_components_and_what_was_left_out(admin_client):
    nba = TagFactory(label="NBA")
    for i in range(15):
        MarketFactory(market_id=f"sports-{i}", category="Sports", tags=[nba])
        MarketFactory(market_id=f"politics-{i}", category="Politics")
    events_ingest(
        kind=INTERACTION, user_key="u:7",
        raw_events=[
            make_event(market_id="politics-1", event_type="hide"),
            make_event(market_id="sports-2", event_type="participate"),
        ],
        received_at=timezone.now(),
    )
    url = reverse("admin:personalization_feed_preview")
    page = admin_client.get(url, {"user_key": "u:7", "surface": "home", "limit": 12, "country": "IL"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "Feed of u:7" in html and html.count("<tr>") >= 12
    assert "Because you traded on a" in html and "interest" in html and "final" in html
    filtered = html[html.index('id="preview-filtered"'):]
    assert "hidden" in filtered and "politics-1" in filtered


def test_the_preview_form_refuses_a_bad_country(admin_client):
    page = admin_client.get(reverse("admin:personalization_feed_preview"), {"user_key": "u:1", "country": "Israel",
                                                                          "surface": "home", "limit": 5})
    assert page.status_code == 200 and "Feed of" not in page.content.decode()
    assert "Enter a valid value" in page.content.decode()


def test_the_feed_config_list_links_to_the_preview(admin_client):
    page = admin_client.get(reverse("admin:personalization_feedconfig_changelist"))
    assert reverse("admin:personalization_feed_preview") in page.content.decode()


def test_the_preview_needs_an_admin_login(client):
    page = client.get(reverse("admin:personalization_feed_preview"), {"user_key": "u:1"})
    assert page.status_code == 302


def test_the_preview_is_the_same_on_every_reload_explains_each_slot_and_can_sort_by_score(admin_client):
    for i in range(20):
        MarketFactory(market_id=f"m-{i}", title=f"Question {chr(97 + i)}", category=("Sports", "Politics")[i % 2])
    url = reverse("admin:personalization_feed_preview")
    query = {"user_key": "u:9", "surface": "home", "limit": 10}
    first, again = (admin_client.get(url, query).content.decode() for _ in range(2))
    rows = lambda html: [part.split("</strong>")[0] for part in html.split("<td><strong>")[1:]]  # noqa: E731
    assert rows(first) == rows(again) and len(rows(first)) == 10
    assert "of the slots" in first and "made of" in first and "(fixed seed)" in first
    assert "exploration: a category new to the user" in first  # a cold-start user: exploration has slots
    scored = admin_client.get(url, {**query, "order": "score"}).content.decode()
    assert sorted(rows(scored)) == sorted(rows(first)) and "score order" in scored
    assert "style=" not in first.split('id="preview-items"')[1]
    # A new draw may differ; it is asked for explicitly.
    assert "(fixed seed)" not in admin_client.get(url, {**query, "new_draw": "on"}).content.decode()
