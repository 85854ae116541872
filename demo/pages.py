"""The demo site's HTML pages: the visitor's feed at `/` and a market page at `/markets/<market_id>`.

Both are shells. The browser fetches the feed, the market and the profile from the JSON
API and reports impressions and interactions back to it (demo/static/demo/),
exactly as the real frontend would, so these views run no query and rank nothing.
See docs/demo-page.md.
"""
from django.views.generic import TemplateView

from feedproject.vocabulary import CATEGORIES


class FeedPage(TemplateView):
    """The feed, with a tab per category of the site's taxonomy (a constant: still no query)."""

    template_name = "demo/feed.html"
    extra_context = {"categories": CATEGORIES}


class MarketPage(TemplateView):
    template_name = "demo/market.html"
