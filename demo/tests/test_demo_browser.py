"""The demo pages in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium),
and the other pages a browser sees (the admin, the API docs), all under the site's Content-Security-Policy.

The app runs in a server thread of the test process on the test database; the browser
uses it as a visitor would, and the tests check what reached the database. Every page is
checked for JavaScript errors and for anything the CSP refused. Every wait is
a poll with a deadline. `make browser-deps` installs the browser; without it these tests
skip, unless BROWSER_TESTS=required (set by .ci/run), where they fail.
"""
import base64
import os
import re
import shutil
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.db import connections
from django.test import Client
from django.test.testcases import LiveServerThread
from django.utils import timezone

from markets.models import Event, Market, MarketVelocity
from markets.tests.factories import MarketFactory, TagFactory
from personalization.models import UserMarketState
from personalization.selectors import caches_reset
from tracking.models import Impression, Interaction, ServedItem

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,900",
)
SCREENSHOTS = Path(os.environ.get("DEMO_SCREENSHOT_DIR", "/tmp"))
WAIT = 40  # seconds: the bound of every wait below (CI shares two cores with PostgreSQL and the server)
FEED_LIMIT = 20  # what feed.js asks for

CATEGORIES = {
    "Crypto": ("#d97706", ["Bitcoin", "Ethereum"]),
    "Sports": ("#15803d", ["NBA", "Soccer"]),
    "Politics": ("#b91c1c", ["US Elections", "UK"]),
    "Business": ("#0369a1", ["Fed", "Inflation"]),
    "Science & Tech": ("#6d28d9", ["AI", "Space"]),
    "Weather": ("#0e7490", ["Hurricanes", "Snow"]),
}


def _require(condition, message):
    if not condition:
        if os.environ.get("BROWSER_TESTS") == "required":
            pytest.fail(message)
        pytest.skip(message)


# ----- the app server ---------------------------------------------------------------------


class _OneRequestAtATime:
    """Runs the app for one request at a time: with SQLite the test database is a single
    in-memory connection shared by the server threads and the test, and a connection is
    not safe for two transactions at once. Sockets are still accepted concurrently, so a
    browser's idle pre-connections cannot stall the server."""

    def __init__(self, app, lock):
        self.app, self.lock = app, lock

    def __call__(self, environ, start_response):
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                # WSGI: the server closes what the app returned. Left to the garbage collector, a
                # file response's close() (request_finished -> close_old_connections) would run
                # on whichever thread collects it, and could close the test's own connection in
                # the middle of its transaction.
                if hasattr(result, "close"):
                    result.close()


class Site:
    def __init__(self, url, lock):
        self.url, self.lock = url, lock

    def query(self, read):
        """Run a database read between two requests of the browser."""
        with self.lock:
            return read()


@pytest.fixture
def chromium():
    _require(
        shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER),
        f"needs {CHROMIUM} and {CHROMEDRIVER}: `make browser-deps` installs Debian's chromium and chromium-driver",
    )
    try:
        from selenium import webdriver  # noqa: F401
    except ImportError:
        _require(False, "needs the selenium package: `make install` (requirements.txt)")
    return CHROMIUM, CHROMEDRIVER


def _request_threads():
    return [t for t in threading.enumerate() if "process_request_thread" in t.name]


@pytest.fixture
def site(chromium):
    lock = threading.RLock()
    shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
    thread = LiveServerThread(
        "127.0.0.1", static_handler=lambda app: _OneRequestAtATime(StaticFilesHandler(app), lock),
        connections_override=shared,
    )
    thread.daemon = True
    for connection in shared.values():
        connection.inc_thread_sharing()
    thread.start()
    thread.is_ready.wait()
    try:
        if thread.error:
            raise thread.error
        yield Site(f"http://127.0.0.1:{thread.port}", lock)
    finally:
        thread.terminate()
        # Threads of the browser's last connections close the shared connection on their
        # way out: let them finish before it stops being shareable.
        deadline = time.monotonic() + WAIT
        while _request_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        for connection in shared.values():
            connection.dec_thread_sharing()


def _image(colour, text):
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 600 300'>"
        f"<rect width='600' height='300' fill='{colour}'/>"
        "<text x='300' y='185' font-size='110' text-anchor='middle' fill='white' font-family='sans-serif'>"
        f"{text}</text></svg>"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@pytest.fixture
def feed_configs(site):
    """An active FeedConfig for each surface the pages ask for. The migrations make them, but a transactional
    test's flush (PostgreSQL) removes them: the tests do not depend on their being there."""
    from personalization.feed_configs import feed_config_save_version
    from personalization.ranking.config import default_params

    def save():
        return {
            surface: feed_config_save_version(surface=surface, params=default_params(), note="browser test",
                                              created_by=None, activate=True)
            for surface in ("home", "category", "market_related")
        }

    return site.query(save)


@pytest.fixture
def catalog(site, feed_configs):
    """12 open markets in each of 6 categories, every one with a picture and a global trending score."""
    markets = []
    for c, (category, (colour, tag_labels)) in enumerate(CATEGORIES.items()):
        tags = [TagFactory(label=label) for label in tag_labels]
        for n in range(12):
            tag = tags[n % 2]
            markets.append(MarketFactory(
                market_id=f"{category.split()[0].lower()}-{n}",
                title=f"Will {tag.label} question {n} resolve Yes?",
                category=category, tags=[tag], probability=round(0.1 + 0.8 * ((n * 7 + c) % 12) / 11, 2),
                volume_24h=1000.0 * (1 + (n * 5 + c) % 12), image_url=_image(colour, f"{tag.label[:3]}{n}"),
            ))
    now = timezone.now()
    MarketVelocity.objects.bulk_create([
        MarketVelocity(
            market=m, scope="global", trending_score=((k * 29) % len(markets)) / len(markets), computed_at=now
        )
        for k, m in enumerate(markets)
    ])
    caches_reset()  # the feed's in-memory catalog is built from these rows on the first request
    return {m.market_id: m for m in markets}


# ----- the browser ------------------------------------------------------------------------

# Runs in every document before its own scripts (a DevTools script, so the page's CSP does not
# apply to it): each refusal of the CSP is kept in sessionStorage, which outlives a navigation
# within the site, until csp_violations() reads it.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  try {
    const seen = JSON.parse(sessionStorage.getItem('csp-violations') || '[]');
    seen.push({directive: e.violatedDirective, blocked: e.blockedURI, page: e.documentURI, line: e.lineNumber});
    sessionStorage.setItem('csp-violations', JSON.stringify(seen));
  } catch (err) { /* about:blank and data: pages have no sessionStorage */ }
});
"""


@pytest.fixture
def browser(chromium, site, tmp_path):
    """A fresh headless Chromium, quit before the server stops."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_LISTENER})
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(check, message, timeout=WAIT):
    """Poll `check` until it returns something truthy (returned), or fail after `timeout` seconds.

    An element that the page replaced while `check` read it (a list re-rendered by the next answer)
    is a "not yet", not a failure."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout}s waiting for: {message}")
        time.sleep(0.1)


def body_data(driver, name):
    return driver.execute_script(f"return document.body.dataset.{name} || null")


def open_feed(driver, site):
    driver.get(site.url + "/")
    return feed_ready(driver)


def feed_ready(driver, previous_feed_request_id=None):
    def ready():
        state, feed_request_id = body_data(driver, "state"), body_data(driver, "feedRequestId")
        if state == "error":
            pytest.fail("The feed page reports an error: " + driver.find_element("id", "feed-status").text)
        return state == "ready" and feed_request_id and feed_request_id != previous_feed_request_id
    wait_until(ready, "the feed to be rendered")
    return body_data(driver, "feedRequestId")


def refresh(driver):
    before = body_data(driver, "feedRequestId")
    driver.find_element("id", "refresh").click()
    return feed_ready(driver, previous_feed_request_id=before)


CARDS_JS = """
return Array.from(document.querySelectorAll('.card')).map((card) => ({
  market_id: card.dataset.marketId, section: card.dataset.section, position: Number(card.dataset.position),
  reason: card.dataset.reason, category: card.dataset.category,
  reason_text: card.querySelector('.reason-text').textContent, seen: card.dataset.seen === 'true',
}));
"""


def cards(driver):
    return driver.execute_script(CARDS_JS)


def card_element(driver, market_id):
    return driver.find_element("css selector", f'.card[data-market-id="{market_id}"]')


def scroll_to(driver, element):
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)


def screenshot(driver, name, width=1280):
    """The whole page as a PNG in SCREENSHOTS (for a person to look at; never committed)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(height + 140, 6000))
    path = SCREENSHOTS / name
    driver.save_screenshot(str(path))
    driver.set_window_size(width, 900)
    return path


CSP_VIOLATIONS_JS = """
try {
  const seen = JSON.parse(sessionStorage.getItem('csp-violations') || '[]');
  sessionStorage.removeItem('csp-violations');
  return seen;
} catch (err) { return []; }
"""


def csp_violations(driver):
    """What the CSP refused on this site's pages in this tab since the last call (and forgets it)."""
    return driver.execute_script(CSP_VIOLATIONS_JS)


@contextmanager
def no_js_errors(driver):
    """Nothing inside logs a JavaScript error or is refused by the Content-Security-Policy."""
    driver.get_log("browser")  # reading the log empties it: only what happens inside counts
    csp_violations(driver)
    yield
    assert csp_violations(driver) == []
    # The admin and the API docs link no icon, so the browser asks for /favicon.ico: not an error of the page.
    errors = [
        e for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and not (e["source"] == "network" and "/favicon.ico " in e["message"])
    ]
    assert not errors, errors


# ----- the tests ----------------------------------------------------------------------------


def test_a_visitor_sees_an_explained_feed_and_what_they_saw_is_reported_once(browser, site, catalog):
    with no_js_errors(browser):
        feed_request_id = open_feed(browser, site)
        user_key = body_data(browser, "userKey")
        feed = cards(browser)

        assert user_key.startswith("a:")
        assert [sum(c["section"] == s for c in feed) for s in ("hero", "grid", "stream")] == [1, 9, FEED_LIMIT - 10]
        assert [c["position"] for c in feed] == list(range(FEED_LIMIT))
        assert len({c["market_id"] for c in feed}) == FEED_LIMIT
        # A newcomer's feed is trending and exploration, each card saying so.
        texts = {c["reason_text"] for c in feed}
        assert "Trending worldwide" in texts
        assert any(t.startswith("Something new for you in ") for t in texts)
        assert all(c["reason_text"] for c in feed)
        hero_image = browser.find_element("css selector", "#hero .card-media img")
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", hero_image)

        # "Why am I seeing this?" opens on the card with its pool and reason; no score components for a visitor.
        first_grid = browser.find_element("css selector", "#grid .card")
        scroll_to(browser, first_grid)
        first_grid.find_element("css selector", ".why summary").click()
        why = first_grid.find_element("css selector", ".why-body")
        assert why.is_displayed()
        assert first_grid.find_element("css selector", ".why-text").text == feed[1]["reason_text"]
        assert first_grid.find_element("css selector", ".why-pool").text
        assert not first_grid.find_element("css selector", ".components").is_displayed()

        # Scroll through the feed: each card becomes visible and is recorded once.
        for card in feed:
            scroll_to(browser, card_element(browser, card["market_id"]))
            wait_until(
                lambda card=card: browser.execute_script(
                    "return arguments[0].dataset.seen === 'true'", card_element(browser, card["market_id"])
                ),
                f"the impression of {card['market_id']}",
            )
        browser.execute_script("window.scrollTo(0, 0)")  # the hero again: not a second impression

        def impressions_stored():
            rows = site.query(lambda: list(Impression.objects.filter(user_key=user_key).values(
                "market__market_id", "feed_request_id", "section", "position"
            )))
            return rows if len(rows) >= FEED_LIMIT else None

        stored = wait_until(impressions_stored, "every impression in the database (flushed every 3 s)")
        screenshot(browser, "demo_feed.png")
    assert sorted((r["market__market_id"], r["section"], r["position"]) for r in stored) == sorted(
        (c["market_id"], c["section"], c["position"]) for c in feed
    )
    assert {str(r["feed_request_id"]) for r in stored} == {feed_request_id}

    # Leaving the page sends whatever is still queued: nothing was, and nothing is reported twice.
    browser.get("about:blank")
    assert site.query(lambda: Impression.objects.filter(user_key=user_key).count()) == FEED_LIMIT


def tab(driver, name):
    return driver.find_element("css selector", f'#tabs .tab[data-category="{name}"]')


def current_tab(driver):
    return driver.find_element("css selector", '#tabs .tab[aria-current="page"]').get_attribute("data-category")


def test_category_tabs_load_the_category_feed_and_the_url_keeps_the_tab(browser, site, catalog):
    from feedproject.vocabulary import CATEGORIES as TAXONOMY

    with no_js_errors(browser):
        open_feed(browser, site)
        user_key = body_data(browser, "userKey")
        tabs = [t.get_attribute("data-category") for t in browser.find_elements("css selector", "#tabs .tab")]
        assert tabs == ["", *TAXONOMY] and current_tab(browser) == ""
        assert len({c["category"] for c in cards(browser)}) > 1

        before = body_data(browser, "feedRequestId")
        tab(browser, "Crypto").click()
        feed_request_id = feed_ready(browser, previous_feed_request_id=before)
        crypto = cards(browser)
        assert crypto and {c["category"] for c in crypto} == {"Crypto"}
        assert len(crypto) == 12  # every open Crypto market of the catalog, and nothing else
        assert browser.current_url.endswith("/?category=Crypto") and current_tab(browser) == "Crypto"
        assert body_data(browser, "surface") == "category"
        # What was seen on the tab is reported as seen on the category surface.
        wait_until(lambda: site.query(lambda: Impression.objects.filter(
            user_key=user_key, surface="category", feed_request_id=feed_request_id).exists()),
            "an impression of the Crypto tab")

        # A reload keeps the tab; a category with a space and an ampersand survives the URL.
        browser.refresh()
        feed_ready(browser)
        assert current_tab(browser) == "Crypto" and {c["category"] for c in cards(browser)} == {"Crypto"}
        before = body_data(browser, "feedRequestId")
        tab(browser, "Science & Tech").click()
        feed_ready(browser, previous_feed_request_id=before)
        assert {c["category"] for c in cards(browser)} == {"Science & Tech"}
        browser.refresh()
        feed_ready(browser)
        assert current_tab(browser) == "Science & Tech"

        # Back goes to the previous tab; a category with no open market says so.
        before = body_data(browser, "feedRequestId")
        browser.back()
        feed_ready(browser, previous_feed_request_id=before)
        assert current_tab(browser) == "Crypto" and {c["category"] for c in cards(browser)} == {"Crypto"}
        before = body_data(browser, "feedRequestId")
        tab(browser, "World").click()
        feed_ready(browser, previous_feed_request_id=before)
        assert cards(browser) == [] and "Nothing to show in World" in browser.find_element("id", "feed-status").text

        before = body_data(browser, "feedRequestId")
        tab(browser, "").click()
        feed_ready(browser, previous_feed_request_id=before)
        assert body_data(browser, "surface") == "home" and len({c["category"] for c in cards(browser)}) > 1
        assert "category=" not in browser.current_url


def test_the_feed_follows_what_the_visitor_saves_and_bets_on(browser, site, catalog):
    first_feed_request_id = open_feed(browser, site)
    user_key = body_data(browser, "userKey")
    first_feed = cards(browser)
    by_category = {}
    for card in first_feed:
        by_category.setdefault(card["category"], []).append(card)
    # The category the visitor picks: the one with the most cards on screen (at least 2).
    target, picked = max(by_category.items(), key=lambda kv: (len(kv[1]), kv[0]))
    assert len(picked) >= 2

    with no_js_errors(browser):
        for card in picked[:3]:
            element = card_element(browser, card["market_id"])
            scroll_to(browser, element)
            button = element.find_element("css selector", '[data-action="bookmark"]')
            button.click()
            wait_until(lambda button=button: button.get_attribute("aria-pressed") == "true", "the saved state")
        wait_until(
            lambda: site.query(lambda: Interaction.objects.filter(user_key=user_key, event_type="bookmark").count())
            == len(picked[:3]),
            "the bookmarks in the database",
        )

        # Open one of them, read it, bet on it, go back.
        opened = picked[0]
        link = card_element(browser, opened["market_id"]).find_element("css selector", ".card-link")
        scroll_to(browser, link)
        link.click()
        wait_until(lambda: body_data(browser, "state") == "ready" and "/markets/" in browser.current_url,
                   "the market page")
        opened_at = browser.execute_script("return performance.now()")
        assert browser.find_element("css selector", ".market-title").text == catalog[opened["market_id"]].title
        browser.find_element("css selector", '[data-side="yes"]').click()
        browser.find_element("id", "place-bet").click()
        wait_until(lambda: "Simulated bet placed" in browser.find_element("id", "bet-status").text, "the bet")
        screenshot(browser, "demo_market.png")
        # Stay on the page for at least 1.5 s of visible time (polled, not slept).
        wait_until(lambda: browser.execute_script("return performance.now()") - opened_at >= 1500, "1.5 s of reading")
        browser.back()
        feed_ready(browser)

    view = wait_until(
        lambda: site.query(lambda: Interaction.objects.filter(user_key=user_key, event_type="view_market").first()),
        "the view_market sent when the market page was left",
    )
    assert view.market.market_id == opened["market_id"]
    assert view.dwell_ms >= 1500
    assert (view.section, view.position) == (opened["section"], opened["position"])
    assert str(view.feed_request_id) == first_feed_request_id
    types = set(site.query(lambda: list(
        Interaction.objects.filter(user_key=user_key, market__market_id=opened["market_id"]).values_list(
            "event_type", flat=True
        )
    )))
    assert {"click", "participate_intent", "participate", "bookmark", "view_market"} <= types
    bet = site.query(lambda: Interaction.objects.get(user_key=user_key, event_type="participate"))
    assert bet.metadata["side"] == "yes" and bet.metadata["amount"] == 10 and bet.metadata["simulated"] is True

    # The next feed leads with the picked category and says what the visitor did there: "Because
    # you traded on Sports markets this session", "Because you saved a NBA market". (Diversity caps
    # keep it from taking over.)
    assert not any(c["reason_text"].startswith("Because you") for c in first_feed)
    refresh(browser)
    after = cards(browser)
    personal = [c for c in after if c["reason"] == "personal"]
    labels = "|".join(re.escape(t) for t in (target, *CATEGORIES[target][1]))
    because = re.compile(
        rf"Because you (traded on|saved|viewed) (a |\d+ )?({labels}) markets?( this session)?"
    )
    assert personal[0]["category"] == target and because.fullmatch(personal[0]["reason_text"]), personal[:3]
    yours = [c for c in after if c["reason_text"].startswith("Because you")]
    assert len(yours) >= 2 and all(because.fullmatch(c["reason_text"]) and c["category"] == target
                                   for c in yours), yours
    session_topics = browser.find_element("id", "topics-session").text
    assert target in session_topics
    screenshot(browser, "demo_feed_after.png")


def saved_list(driver):
    """The Saved panel as (market_id, link text, link path) rows."""
    return [
        (li.get_attribute("data-market-id"), li.find_element("css selector", "a").text,
         li.find_element("css selector", "a").get_attribute("href").split("://", 1)[1].split("/", 1)[1])
        for li in driver.find_elements("css selector", "#saved li[data-market-id]")
    ]


def save_button(driver, market_id):
    return card_element(driver, market_id).find_element("css selector", '[data-action="bookmark"]')


def test_saved_markets_are_listed_on_the_feed_from_both_pages_and_unsaving_removes_them(browser, site, catalog):
    with no_js_errors(browser):
        open_feed(browser, site)
        user_key = body_data(browser, "userKey")
        assert saved_list(browser) == [] and "Nothing saved yet" in browser.find_element("id", "saved").text
        # What an earlier version of the pages stored under the same key (a list of ids) is read too.
        browser.execute_script("localStorage.setItem('demo.saved', JSON.stringify(['sports-1']))")
        browser.refresh()
        feed_ready(browser)
        assert [row[0] for row in saved_list(browser)] == ["sports-1"]
        assert saved_list(browser)[0][2] == "markets/sports-1"

        feed = [c["market_id"] for c in cards(browser) if c["market_id"] != "sports-1"]
        first, second, on_page = feed[3], feed[4], feed[5]
        for market_id in (first, second):
            button = save_button(browser, market_id)
            scroll_to(browser, button)
            button.click()
            wait_until(lambda button=button: button.get_attribute("aria-pressed") == "true", "the saved state")
        assert saved_list(browser)[:2] == [
            (m, catalog[m].title, f"markets/{m}") for m in (second, first)  # newest first
        ]

        # Unsave from the list: gone from it, and the card's button says Save again.
        unsave = browser.find_element("css selector", f'#saved li[data-market-id="{first}"] .unsave')
        scroll_to(browser, unsave)
        unsave.click()
        assert [row[0] for row in saved_list(browser)] == [second, "sports-1"]
        assert save_button(browser, first).get_attribute("aria-pressed") == "false"
        assert save_button(browser, first).text == "☆ Save"
        # Unsave from a card's button; a reload agrees.
        button = save_button(browser, second)
        scroll_to(browser, button)
        button.click()
        assert [row[0] for row in saved_list(browser)] == ["sports-1"]
        browser.refresh()
        feed_ready(browser)
        assert [row[0] for row in saved_list(browser)] == ["sports-1"]

        # Saved on a market page: on the feed's list when the visitor comes back.
        browser.get(f"{site.url}/markets/{on_page}")
        wait_until(lambda: body_data(browser, "state") == "ready", "the market page")
        bookmark = browser.find_element("id", "bookmark")
        assert bookmark.get_attribute("aria-pressed") == "false"
        bookmark.click()
        assert bookmark.get_attribute("aria-pressed") == "true" and bookmark.text == "★ Saved"
        browser.back()
        feed_ready(browser)
        assert saved_list(browser)[0] == (on_page, catalog[on_page].title, f"markets/{on_page}")
        assert [row[0] for row in saved_list(browser)] == [on_page, "sports-1"]
        # And from the market page.
        browser.get(f"{site.url}/markets/{on_page}")
        wait_until(lambda: body_data(browser, "state") == "ready", "the market page")
        bookmark = browser.find_element("id", "bookmark")
        assert bookmark.get_attribute("aria-pressed") == "true"
        bookmark.click()
        assert bookmark.get_attribute("aria-pressed") == "false"
        browser.get(site.url + "/")
        feed_ready(browser)
        assert [row[0] for row in saved_list(browser)] == ["sports-1"]
        assert browser.execute_script("return Object.keys(localStorage).filter((k) => /saved/i.test(k))") == [
            "demo.saved"
        ]
    # Each save sent one bookmark; unsaving sends nothing (the API has no such event).
    bookmarks = site.query(lambda: sorted(Interaction.objects.filter(user_key=user_key).exclude(
        event_type="view_market").values_list("market__market_id", "event_type")))
    assert bookmarks == sorted((m, "bookmark") for m in (first, second, on_page))


def test_cards_show_their_odds_moves_and_a_market_page_lists_its_events_other_outcomes(browser, site, catalog):
    open_feed(browser, site)
    shown = [c["market_id"] for c in cards(browser)]
    # Every card of the feed gets a move: up, down, or too small to show; three markets become one event.
    moves = {market_id: (0.12, -0.08, 0.03)[k % 3] for k, market_id in enumerate(shown)}
    opened, *others = shown[:3]

    def write():
        for market_id, change in moves.items():
            MarketVelocity.objects.filter(market__market_id=market_id, scope="global").update(odds_change_24h=change)
        event = Event.objects.create(event_id="demo-cup", title="Who wins the cup?")
        Market.objects.filter(market_id__in=shown[:3]).update(event=event)
        caches_reset()

    site.query(write)
    with no_js_errors(browser):
        browser.refresh()
        feed_ready(browser)
        for card in cards(browser):
            move = card_element(browser, card["market_id"]).find_element("css selector", ".move")
            change = moves.get(card["market_id"], 0.0)
            if abs(change) < 0.05:
                assert not move.is_displayed(), card
                continue
            up = change > 0
            assert move.is_displayed() and move.text == f"{'▲' if up else '▼'} {round(abs(change) * 100)} pts today"
            assert ("move-up" if up else "move-down") in move.get_attribute("class").split()
        screenshot(browser, "demo_feed_moves.png")

        browser.get(f"{site.url}/markets/{opened}")
        wait_until(lambda: body_data(browser, "state") == "ready", "the market page")
        section = browser.find_element("id", "event-outcomes")
        assert section.is_displayed() and "Who wins the cup?" in section.text
        links = section.find_elements("css selector", ".outcomes a")
        likeliest_first = sorted(others, key=lambda m: (-catalog[m].probability, m))
        assert [a.get_attribute("href").rsplit("/", 1)[1] for a in links] == likeliest_first
        links[0].click()
        wait_until(lambda: browser.current_url.endswith(f"/markets/{likeliest_first[0]}")
                   and body_data(browser, "state") == "ready", "the other outcome's page")
        assert catalog[opened].title in browser.find_element("id", "event-outcomes").text
        screenshot(browser, "demo_market_outcomes.png")
        # A market of no event has no such section.
        browser.get(f"{site.url}/markets/{shown[5]}")
        wait_until(lambda: body_data(browser, "state") == "ready", "a market of no event")
        assert not browser.find_element("id", "event-outcomes").is_displayed()


def related_ids(driver):
    items = driver.find_elements("css selector", "#related .related-list li")
    return [li.get_attribute("data-market-id") for li in items]


def test_a_market_page_lists_related_markets_apart_from_its_events_other_outcomes(browser, site, catalog):
    opened, *outcomes = "crypto-0", "crypto-2", "crypto-4"

    def write():
        event = Event.objects.create(event_id="crypto-cup", title="Which crypto question?")
        Market.objects.filter(market_id__in=[opened, *outcomes]).update(event=event)
        Market.objects.filter(market_id="crypto-6").update(status="closed")
        caches_reset()

    site.query(write)
    with no_js_errors(browser):
        open_feed(browser, site)
        user_key = body_data(browser, "userKey")
        browser.get(f"{site.url}/markets/{opened}")
        wait_until(lambda: browser.execute_script("return document.getElementById('market-page').dataset.related"),
                   "the related markets")
        section = browser.find_element("id", "related")
        assert section.is_displayed() and section.find_element("css selector", "h2").text == "Related markets"
        related = related_ids(browser)
        # Never the market itself, nor a closed one, nor one the event's list above already shows.
        assert related and len(related) == len(set(related)) <= 6
        assert not {opened, "crypto-6", *outcomes} & set(related), related
        assert all(m in catalog for m in related)
        assert browser.find_element("id", "event-outcomes").is_displayed()
        links = section.find_elements("css selector", ".related-list a")
        assert [a.text for a in links] == [catalog[m].title for m in related]
        screenshot(browser, "demo_market_related.png")
        # The related list reports what was seen, as the feed does: one impression a shown market, on its surface.
        scroll_to(browser, section)
        seen = wait_until(lambda: site.query(lambda: sorted(Impression.objects.filter(
            user_key=user_key, surface="market_related").values_list("market__market_id", flat=True)) or None),
            "the related list's impressions")
        assert set(seen) <= set(related) and len(seen) == len(set(seen)), (seen, related)

        first = related[0]
        link = section.find_element("css selector", f'li[data-market-id="{first}"] a')
        scroll_to(browser, link)
        link.click()
        wait_until(lambda: browser.current_url.split("?")[0].endswith(f"/markets/{first}")
                   and body_data(browser, "state") == "ready", "the related market's page")
        assert "surface=market_related" in browser.current_url
        browser.get("about:blank")  # leaving sends the view, with the related list's context

    def stored():
        rows = list(Interaction.objects.filter(user_key=user_key, market__market_id=first).values_list(
            "event_type", "section", "position", "feed_request_id"))
        return rows if {r[0] for r in rows} >= {"click", "view_market"} else None

    rows = wait_until(lambda: site.query(stored), "the click and the view of the related market")
    # Both carry the related list's context: its feed_request_id (served on the market_related surface) and slot.
    assert len({r[1:] for r in rows}) == 1 and rows[0][3] is not None, rows
    served = site.query(lambda: ServedItem.objects.get(feed_request_id=rows[0][3], market__market_id=first))
    assert served.surface == "market_related" and served.position == rows[0][2]

    # A closed market has no related list, and asks for none (the API would answer 404).
    with no_js_errors(browser):
        browser.get(f"{site.url}/markets/crypto-6")
        wait_until(lambda: body_data(browser, "state") == "ready", "the closed market's page")
        assert browser.execute_script("return document.getElementById('market-page').dataset.related") == "none"
        assert not browser.find_element("id", "related").is_displayed()


def test_a_hidden_market_never_comes_back(browser, site, catalog):
    open_feed(browser, site)
    user_key = body_data(browser, "userKey")
    feed = cards(browser)
    hidden, dismissed = feed[1]["market_id"], feed[2]["market_id"]

    with no_js_errors(browser):
        for market_id, action in ((hidden, "hide"), (dismissed, "not_interested")):
            element = card_element(browser, market_id)
            scroll_to(browser, element)
            element.find_element("css selector", f'[data-action="{action}"]').click()
            gone = browser.find_element("css selector", f'.card-gone[data-market-id="{market_id}"]')
            assert gone.is_displayed()
        wait_until(
            lambda: site.query(lambda: UserMarketState.objects.filter(
                user_key=user_key, market__market_id=hidden, hidden=True
            ).exists()),
            "the hidden flag in the database",
        )
        wait_until(
            lambda: site.query(lambda: Interaction.objects.filter(
                user_key=user_key, market__market_id=dismissed, event_type="not_interested"
            ).exists()),
            "the not_interested in the database",
        )

        seen = []
        for _ in range(3):
            refresh(browser)
            seen.append({c["market_id"] for c in cards(browser)})
        browser.refresh()
        feed_ready(browser)
        seen.append({c["market_id"] for c in cards(browser)})
    assert all(shown and hidden not in shown for shown in seen)


# ----- layout, as a visitor found it --------------------------------------------------------


def rect(driver, element):
    return driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];", element
    )


def overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# The page needs no sideways scrolling (a row that scrolls inside itself, as the tabs do, is fine).
NO_SIDEWAYS_JS = "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def header_height(driver):
    return driver.execute_script("return document.querySelector('.topbar').getBoundingClientRect().height")


def viewport(driver, width, height=900):
    """The window sized so that the page's viewport is `width` wide."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return window.innerWidth")
    if inner != width:
        driver.set_window_size(2 * width - inner, height)
    assert driver.execute_script("return window.innerWidth") == width


def test_at_400_px_the_stream_buttons_clear_the_titles_and_the_header_stays_short(browser, site, catalog):
    with no_js_errors(browser):
        for width in (400, 1280):
            viewport(browser, width)
            open_feed(browser, site)
            for card in browser.find_elements("css selector", "#stream .card, #grid .card, #hero .card"):
                title = rect(browser, card.find_element("css selector", ".card-title"))
                for button in card.find_elements("css selector", ".card-actions button"):
                    assert not overlaps(title, rect(browser, button)), (width, card.text, button.text)
            # The header is sticky: it must leave a 900 px screen to the feed.
            assert header_height(browser) < 100, (width, header_height(browser))
            assert browser.execute_script(NO_SIDEWAYS_JS), width  # and no sideways scrolling
            browser.get(f"{site.url}/markets/crypto-1")
            wait_until(lambda: body_data(browser, "state") == "ready", "the market page")
            assert header_height(browser) < 100, (width, header_height(browser))
        viewport(browser, 400)
        open_feed(browser, site)
        screenshot(browser, "demo_feed_400.png", width=400)
    viewport(browser, 1280)


def test_the_market_page_shows_whole_figures_at_any_width(browser, site, catalog):
    site.query(lambda: Market.objects.filter(market_id="crypto-1").update(
        volume_total=319_700.0, volume_24h=1_234_567.0, participant_count=123_456))
    site.query(caches_reset)
    with no_js_errors(browser):
        for width in (400, 700, 1280):
            viewport(browser, width)
            browser.get(f"{site.url}/markets/crypto-1")
            wait_until(lambda: body_data(browser, "state") == "ready", "the market page")
            assert browser.find_element("css selector", ".stat-volume").text == "$319.7K"
            assert browser.find_element("css selector", ".stat-volume24").text == "$1.2M"
            assert browser.find_element("css selector", ".stat-traders").text == "123,456"
            for dd in browser.find_elements("css selector", ".stats dd"):
                fits = browser.execute_script(
                    "const e = arguments[0]; const box = e.parentElement.getBoundingClientRect();"
                    " const r = e.getBoundingClientRect();"
                    " return e.scrollWidth <= e.clientWidth && r.right <= box.right + 0.5;", dd)
                assert fits, (width, dd.text)
        screenshot(browser, "demo_market_400.png", width=400)
    viewport(browser, 1280)


def test_why_am_i_seeing_this_is_a_popover_that_leaves_the_layout_alone(browser, site, catalog):
    with no_js_errors(browser):
        open_feed(browser, site)
        for selector in ("#grid .card", "#stream .card", "#hero .card"):
            card = browser.find_element("css selector", selector)
            section = card.find_element("xpath", "..")
            scroll_to(browser, card)
            before = (rect(browser, card), rect(browser, section))
            card.find_element("css selector", ".why summary").click()
            popover = card.find_element("css selector", ".why-body")
            assert popover.is_displayed() and popover.text
            assert (rect(browser, card), rect(browser, section)) == before, selector
            assert browser.execute_script(NO_SIDEWAYS_JS)
            # Nothing covers it (it is on top of the cards after it), and Escape closes it.
            browser.execute_script("arguments[0].scrollIntoView({block: 'nearest'})", popover)
            box = rect(browser, popover)
            on_top = browser.execute_script(
                "return arguments[0].contains(document.elementFromPoint(arguments[1], arguments[2]))",
                popover, (box[0] + box[2]) / 2, box[3] - 4)
            assert on_top, selector
            if selector == "#grid .card":
                screenshot(browser, "demo_feed_why.png")
            browser.find_element("css selector", "body").send_keys("\ue00c")  # Escape
            wait_until(lambda popover=popover: not popover.is_displayed(), "Escape to close the popover")
        # One open at a time: opening another closes the first; a click elsewhere closes it.
        first, second = browser.find_elements("css selector", "#grid .card")[:2]
        first.find_element("css selector", ".why summary").click()
        second.find_element("css selector", ".why summary").click()
        assert not first.find_element("css selector", ".why-body").is_displayed()
        assert second.find_element("css selector", ".why-body").is_displayed()
        browser.execute_script("window.scrollTo(0, 0)")
        browser.find_element("id", "feed-status").click()
        assert not second.find_element("css selector", ".why-body").is_displayed()


def test_the_side_panel_says_what_the_feed_knows_in_words(browser, site, catalog):
    from personalization.models import TopicAffinity

    open_feed(browser, site)
    user_key = body_data(browser, "userKey")

    def affinities(long, session):
        TopicAffinity.objects.filter(user_key=user_key).delete()
        now = timezone.now()
        TopicAffinity.objects.bulk_create([
            TopicAffinity(user_key=user_key, horizon=horizon, topic_type=kind, topic_value=value, score=score,
                          updated_at=now)
            for horizon, rows in (("long", long), ("session", session)) for kind, value, score in rows
        ])

    same = [("category", "Politics", 10.5), ("tag", "us-elections", 4.2), ("category", "Weather", -4.8)]
    site.query(lambda: affinities(same, same))
    with no_js_errors(browser):
        browser.refresh()
        feed_ready(browser)
        panel = browser.find_element("css selector", ".sidebar .panel-knows")
        text = panel.text
        # No raw scores, no slugs: words, and the tag's label.
        assert not re.search(r"\d+\.\d", text) and "#" not in text and "us-elections" not in text, text
        assert "US Elections" in text and "Politics" in text and "Weather" in text
        rows = {r.find_element("css selector", ".topic-name").text: r.find_element("css selector", ".topic-word").text
                for r in panel.find_elements("css selector", "#topics-session .topic")}
        assert rows == {"Politics": "Strong interest", "US Elections": "Interested", "Weather": "Not for you"}, rows
        # The same list twice is shown once, labelled so.
        assert not browser.find_element("id", "topics-long-block").is_displayed()
        assert browser.find_element("id", "topics-session-title").text.lower() == "this session and long-term"
        screenshot(browser, "demo_feed_panel.png")

        site.query(lambda: affinities([("category", "Crypto", 2.5), ("tag", "bitcoin", 1.0)], same))
        browser.refresh()
        feed_ready(browser)
        assert browser.find_element("id", "topics-long-block").is_displayed()
        assert browser.find_element("id", "topics-session-title").text.lower() == "this session"
        long_text = browser.find_element("id", "topics-long").text
        assert "Crypto" in long_text and "Bitcoin" in long_text and "Some interest" in long_text, long_text


# What the pages style a reason as (the class of .reason), from what its text says.
REASON_STYLE = (
    (re.compile(r"(Because you|Based on your past activity|Similar to markets you) .+"), "reason-personal"),
    (re.compile(r"Trending (worldwide|in .+)|Popular right now"), "reason-trending"),
    (re.compile(r"Something new for you in .+"), "reason-exploration"),
    (re.compile(r"Editor's pick"), "reason-editorial"),
)


def test_a_reason_is_styled_as_its_text_says(browser, site, catalog):
    # A newcomer's personal slots cite nothing they did: "Popular right now" (or "Picked for you").
    with no_js_errors(browser):
        open_feed(browser, site)
        shown = browser.execute_script("""
          return [...document.querySelectorAll('.card')].map((card) => {
            const reason = card.querySelector('.reason');
            return {pool: card.dataset.reason, text: reason.textContent, classes: [...reason.classList],
                    colour: getComputedStyle(reason).color};
          });""")
    popular = [c for c in shown if c["text"] == "Popular right now"]
    assert any(c["pool"] == "personal" for c in popular), shown  # the case the visitor found
    colours = {}
    for card in shown:
        expected = "reason-followup" if card["pool"] == "followup" else next(
            (style for pattern, style in REASON_STYLE if pattern.fullmatch(card["text"])), "reason-plain")
        assert expected in card["classes"], card
        colours.setdefault(expected, set()).add(card["colour"])
    assert all(len(c) == 1 for c in colours.values()), colours
    assert colours["reason-trending"] != colours.get("reason-personal", {"rgb(37, 84, 216)"})


def test_staff_see_score_components_and_their_session_actions_pass_csrf(browser, site, catalog):
    def session_cookie():
        staff = User.objects.create_user("editor", password="unused", is_staff=True)
        client = Client()
        client.force_login(staff)
        return staff.pk, client.cookies[settings.SESSION_COOKIE_NAME].value

    staff_id, session = site.query(session_cookie)
    browser.execute_cdp_cmd(
        "Network.setCookie", {"name": settings.SESSION_COOKIE_NAME, "value": session, "url": site.url + "/"}
    )
    with no_js_errors(browser):
        open_feed(browser, site)
        assert body_data(browser, "userKey") == f"u:{staff_id}"
        card = browser.find_element("css selector", "#grid .card")
        scroll_to(browser, card)
        card.find_element("css selector", ".why summary").click()
        table = card.find_element("css selector", ".components")
        assert table.is_displayed()
        assert {"interest", "trending", "final"} <= {th.text for th in table.find_elements("css selector", "th")}
        # A logged-in visitor's writes need the CSRF token the page sends as X-CSRFToken.
        card.find_element("css selector", '[data-action="bookmark"]').click()
        wait_until(
            lambda: site.query(
                lambda: Interaction.objects.filter(user_key=f"u:{staff_id}", event_type="bookmark").exists()
            ),
            "the staff member's bookmark in the database",
        )
        screenshot(browser, "demo_feed_staff.png")


# ----- the pages around the demo, under the same policy ------------------------------------


EDITOR_PASSWORD = "a long enough password"


def admin_login(browser, site):
    """Log in to the admin as the "editor" superuser the test created, through the login form."""
    browser.get(site.url + "/admin/login/")
    browser.find_element("id", "id_username").send_keys("editor")
    browser.find_element("id", "id_password").send_keys(EDITOR_PASSWORD)
    browser.find_element("css selector", "#login-form [type=submit]").click()
    wait_until(lambda: browser.find_elements("id", "user-tools"), "the admin index after login")


def test_an_editor_logs_in_to_the_admin_and_its_lists_forms_and_widgets_work(browser, site):
    from selenium.webdriver.common.keys import Keys

    def editor_and_markets():
        User.objects.create_superuser("editor", password=EDITOR_PASSWORD)
        tags = [TagFactory(label=label) for label in ("Bitcoin", "Ethereum", "Solana")]
        return [MarketFactory(tags=[tag], image_url="").pk for tag in tags][0]

    market_pk = site.query(editor_and_markets)
    with no_js_errors(browser):
        admin_login(browser, site)

        # Changelists: rows, the date drill-down, the filters, and the scripted actions bar.
        browser.get(site.url + "/admin/markets/market/")
        assert len(browser.find_elements("css selector", "#result_list tbody tr")) == 3
        assert browser.find_elements("css selector", "#changelist-filter")
        assert browser.find_elements("css selector", "nav.toplinks")
        browser.get(site.url + "/admin/markets/tag/")
        browser.find_element("id", "action-toggle").click()  # actions.js: selects every row
        assert browser.find_element("css selector", ".actions .action-counter").text.startswith("3 of 3")

        # A change form with its widgets, each built by the admin's JavaScript.
        browser.get(site.url + f"/admin/markets/market/{market_pk}/change/")
        wait_until(lambda: browser.find_elements("css selector", ".datetimeshortcuts a"), "the date shortcuts")
        browser.find_element("css selector", ".field-tags .select2-selection").click()  # the tag autocomplete
        browser.find_element("css selector", ".select2-search__field").send_keys("Bit")
        wait_until(
            lambda: any(o.text == "Bitcoin" for o in browser.find_elements("css selector", ".select2-results__option")),
            "the tag autocomplete's answer",
        )
        browser.find_element("css selector", ".select2-search__field").send_keys(Keys.ESCAPE)
        assert not browser.find_elements("css selector", "tr.dynamic-boosts")
        add_boost = browser.find_element("css selector", ".add-row a")  # inlines.js: one more boost row
        scroll_to(browser, add_boost)
        add_boost.click()
        # starts_at and ends_at: a date and a time, each with its shortcuts.
        assert len(browser.find_elements("css selector", "tr.dynamic-boosts .datetimeshortcuts")) == 4

        # The feed config form: its script sums the quotas and lists the changes against the active version, live.
        # (A transactional test's flush may have removed the migrations' configs: make the active one here.)
        def active_config():
            from personalization.feed_configs import feed_config_save_version
            from personalization.ranking.config import default_params

            return feed_config_save_version(surface="home", params=default_params(), note="browser test",
                                            created_by=None, activate=True)

        config = site.query(active_config)
        browser.get(site.url + f"/admin/personalization/feedconfig/{config.pk}/change/")
        assert browser.find_element("id", "quota-sum").text == "The quotas sum to 1.000."
        label = f"home v{config.version}"
        assert browser.find_element("id", "config-changes").text.startswith(f"No change against {label}")
        interest = browser.find_element("id", "id_weights__interest")
        interest.clear()
        interest.send_keys("0.5")
        quota = browser.find_element("id", "id_quotas__personal")
        quota.clear()
        quota.send_keys("0.6")
        changes = browser.find_element("id", "config-changes").text
        assert changes.startswith(f"2 changes against {label}") and "0.35 → 0.5" in changes, changes
        assert "must sum to 1" in browser.find_element("id", "quota-sum").text
        assert "changed-from-active" in interest.get_attribute("class").split()
        assert not browser.find_element("css selector", "fieldset.collapse details, details").get_attribute("open")
        screenshot(browser, "admin_feed_config.png")

        # The feed preview, the project's own admin page.
        browser.get(site.url + "/admin/personalization/feedconfig/preview/")
        assert browser.find_elements("css selector", ".preview-form")
        assert browser.execute_script(
            "return [...document.styleSheets].some((s) => s.href && s.href.endsWith('/feed_preview.css')"
            " && s.cssRules.length > 0)"
        )
        # A user's feed in it: one row per item with why and what made it, the same on a reload, fitting 1,400 px.
        browser.set_window_size(1400, 900)
        browser.get(site.url + "/admin/personalization/feedconfig/preview/?user_key=u%3A9&surface=home&limit=3")
        rows = [r.text for r in browser.find_elements("css selector", "#preview-items tbody tr")]
        assert len(rows) == 3 and all("of the slots" in r or "could not fill" in r or "pin" in r for r in rows), rows
        assert browser.find_elements("css selector", "#preview-items .part")  # the signed contributions
        browser.refresh()
        assert [r.text for r in browser.find_elements("css selector", "#preview-items tbody tr")] == rows
        assert browser.execute_script(WIDEST_JS) == []
        screenshot(browser, "admin_feed_preview.png")
        browser.set_window_size(1280, 900)


# Elements that stick out of the viewport sideways: none when the page needs no sideways scrolling.
WIDEST_JS = """
const width = document.documentElement.clientWidth;
return [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > width + 1)
  .slice(0, 5).map((e) => `${e.tagName}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`);
"""


def test_an_editor_reads_the_live_dashboard_and_drives_an_experiment_at_1400_px(browser, site, catalog):
    """The dashboard (figures and charts from the served log) and an experiment's page with its buttons
    and metrics, in the real browser, under the CSP, without sideways scrolling at 1,400 px."""
    from personalization.dashboard import dashboard_refresh
    from personalization.experiments import experiment_metrics_refresh
    from personalization.feed_configs import feed_config_save_version
    from personalization.models import Experiment, ExperimentArm
    from personalization.ranking.config import default_params

    open_feed(browser, site)  # a visitor's feed and its impressions: the served log has something to show
    refresh(browser)
    wait_until(lambda: site.query(lambda: Impression.objects.filter(feed_request_id__isnull=False).exists()),
               "the first feed's impressions")

    def setup():
        User.objects.create_superuser("editor", password=EDITOR_PASSWORD)
        now = timezone.now()
        params = default_params()
        a = feed_config_save_version(surface="home", params=params, note="a", created_by=None, activate=True)
        b = feed_config_save_version(surface="home", params={**params, "diversity": {**params["diversity"],
                                     "top_n": 5}}, note="b", created_by=None, activate=False)
        e = Experiment.objects.create(name="Top 5", surface="home", starts_at=now - timedelta(hours=1),
                                      ends_at=now + timedelta(days=7))
        ExperimentArm.objects.create(experiment=e, name="control", feed_config=a)
        ExperimentArm.objects.create(experiment=e, name="top-5", feed_config=b)
        dashboard_refresh(now=now)
        return e.pk

    experiment_pk = site.query(setup)
    browser.set_window_size(1400, 900)
    with no_js_errors(browser):
        admin_login(browser, site)

        browser.get(site.url + "/admin/personalization/dashboardsnapshot/")
        rows = browser.find_elements("css selector", "#dashboard-days tbody tr")
        assert rows and browser.find_elements("css selector", "#dashboard-pools tbody tr")
        charts = browser.find_elements("css selector", ".charts img")
        assert len(charts) == 2
        wait_until(lambda: all(browser.execute_script("return arguments[0].naturalWidth", c) > 0 for c in charts),
                   "the charts to load")
        screenshot(browser, "admin_dashboard.png")
        assert browser.execute_script(WIDEST_JS) == []

        browser.get(site.url + f"/admin/personalization/experiment/{experiment_pk}/change/")
        assert "Nothing: it can start." in browser.find_element("css selector", ".field-problems").text
        browser.find_element("xpath", "//button[normalize-space()='Start']").click()
        wait_until(lambda: browser.find_elements("xpath", "//button[normalize-space()='Stop']"), "the Stop button")
        site.query(lambda: experiment_metrics_refresh(now=timezone.now()))
        browser.refresh()
        assert "control" in browser.find_element("css selector", ".field-metrics_table").text
        assert browser.find_element("css selector", ".field-verdict strong").text
        assert browser.find_elements("xpath", "//button[normalize-space()='Promote top-5']")
        screenshot(browser, "admin_experiment.png")
        assert browser.execute_script(WIDEST_JS) == []
    browser.set_window_size(1280, 900)


def test_the_api_docs_render_every_operation(browser, site):
    def operations():
        schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
        methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
        return sum(1 for path in schema["paths"].values() for method in path if method in methods)

    expected = site.query(operations)
    assert expected >= 8
    with no_js_errors(browser):
        browser.get(site.url + "/api/docs/")
        wait_until(
            lambda: len(browser.find_elements("css selector", ".opblock")) == expected,
            f"Swagger UI to render {expected} operations",
        )
        # Open one and run it from the page: Swagger UI calls the API itself.
        def in_operation(css):
            return browser.find_elements("css selector", f"#operations-api-api_trending_retrieve {css}")

        summary = in_operation(".opblock-summary")[0]
        scroll_to(browser, summary)
        summary.click()
        wait_until(lambda: in_operation(".try-out__btn"), "the open operation")[0].click()
        wait_until(lambda: in_operation(".execute"), "its Execute button")[0].click()
        status = wait_until(
            lambda: in_operation(".live-responses-table tbody .response-col_status"),
            "the answer of the operation run from the docs",
        )
        assert status[0].text == "200"
        screenshot(browser, "api_docs.png")


def test_the_browsable_api_of_development_mode_works(browser, site):
    # Offered in development mode only (DJANGO_DEBUG=1, as the suite runs: pytest.ini).
    assert "rest_framework.renderers.BrowsableAPIRenderer" in settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"]
    site.query(lambda: MarketFactory(market_id="browsable-1", image_url=""))
    with no_js_errors(browser):
        browser.get(site.url + "/api/markets?limit=5")
        assert "browsable-1" in browser.find_element("css selector", ".response-info").text
        # Bootstrap's dropdown (jQuery) opens the format menu.
        browser.find_element("css selector", ".format-selection .dropdown-toggle").click()
        wait_until(lambda: browser.find_elements("css selector", ".format-selection.open"), "the format menu")
