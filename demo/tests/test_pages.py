"""The demo pages (demo/pages.py): shells that render without a query and load their data from the API."""
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db


def static_paths(html):
    return re.findall(r'(?:src|href)="/static/([^"]+)"', html)


def test_the_feed_page_is_a_shell_that_runs_no_query_and_ranks_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/")
    html = response.content.decode()
    assert response.status_code == 200
    for element in ('id="hero"', 'id="grid"', 'id="stream"', 'id="refresh"', 'id="tpl-card"', "Why am I seeing this?"):
        assert element in html
    for action in ("bookmark", "not_interested", "hide"):
        assert f'data-action="{action}"' in html
    assert static_paths(html) == ["demo/demo.css", "demo/api.js", "demo/feed.js"]


def test_the_feed_page_has_a_tab_for_all_and_each_category_of_the_taxonomy():
    from feedproject.vocabulary import CATEGORIES

    html = Client().get("/").content.decode()
    tabs = re.findall(r'<a class="tab" href="([^"]+)" data-category="([^"]*)">([^<]+)</a>', html)
    assert [(category, label) for _, category, label in tabs] == [("", "All")] + [
        (c.replace("&", "&amp;"), c.replace("&", "&amp;")) for c in CATEGORIES
    ]
    assert tabs[0][0] == "/" and ("/?category=Science%20%26%20Tech", "Science &amp; Tech") in {
        (href, label) for href, _, label in tabs
    }


def test_the_market_page_names_its_market_for_the_script_that_loads_it(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/markets/bitcoin-above-120k")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-market-id="bitcoin-above-120k"' in html
    for element in ('id="place-bet"', 'data-side="yes"', 'data-side="no"', 'id="bookmark"'):
        assert element in html
    assert static_paths(html) == ["demo/demo.css", "demo/api.js", "demo/market.js"]


def test_a_market_id_that_is_not_a_slug_is_not_found():
    assert Client().get("/markets/<script>alert(1)</script>").status_code == 404


@pytest.mark.parametrize("path", ["demo/demo.css", "demo/api.js", "demo/feed.js", "demo/market.js"])
def test_every_file_the_pages_load_is_found_by_the_static_finders(path):
    assert finders.find(path)


def test_the_page_carries_a_csrf_token_for_visitors_logged_in_with_a_session():
    """The API enforces CSRF for session users; the scripts send this token back as X-CSRFToken."""
    client = Client()
    response = client.get("/")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', response.content.decode()).group(1)
    assert token and "csrftoken" in response.cookies


def test_staff_are_told_that_score_components_are_shown():
    staff = User.objects.create_user("editor", password="x", is_staff=True)
    client = Client()
    client.force_login(staff)
    html = client.get("/").content.decode()
    assert "Signed in as editor" in html and "score components shown" in html
    assert "score components shown" not in Client().get("/").content.decode()


def test_the_scripts_read_only_the_json_api():
    """The pages talk to the API only: every URL the scripts fetch is under /api/."""
    sources = "".join(Path(finders.find(f"demo/{name}")).read_text() for name in ("api.js", "feed.js", "market.js"))
    fetched = re.findall(r'(?:getJSON|postJSON|postOnLeave)\(\s*[`"]([^`"$]+)', sources)
    assert fetched and all(url.startswith("/api/") for url in fetched)
    assert "sendBeacon" in sources and "keepalive: true" in sources and "IntersectionObserver" in sources
