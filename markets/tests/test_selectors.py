"""market_get and markets_list: the reads behind GET /api/markets and /api/markets/<id>."""
import pytest

from markets.models import Market
from markets.selectors import market_get, markets_list
from markets.tests.factories import MarketFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_each_filter_narrows_the_list_and_empty_ones_are_ignored():
    nba = TagFactory(label="NBA")
    MarketFactory(market_id="lakers", title="Will the Lakers win?", tags=[nba], volume_24h=10)
    MarketFactory(market_id="celtics", title="Will the Celtics win?", tags=[nba], volume_24h=30,
                  status=Market.Status.CLOSED)
    MarketFactory(market_id="btc", title="Will BTC top $100k?", category="Crypto", volume_24h=20)
    ids = lambda **filters: [m.market_id for m in markets_list(**filters)]  # noqa: E731
    assert ids() == ids(status="", category="", tag="", q="") == ["celtics", "btc", "lakers"]
    assert ids(status="open") == ["btc", "lakers"]
    assert ids(category="Crypto") == ["btc"]
    assert ids(tag="nba") == ["celtics", "lakers"]
    assert ids(q="LAKERS") == ["lakers"]
    assert ids(status="open", tag="nba", q="win") == ["lakers"]


def test_market_get_returns_the_market_with_its_tags_or_raises_for_an_unknown_slug(django_assert_num_queries):
    MarketFactory(market_id="m-1", tags=[TagFactory(label="NBA"), TagFactory(label="NFL")])
    with django_assert_num_queries(2):
        market = market_get(market_id="m-1")
        assert sorted(t.label for t in market.tags.all()) == ["NBA", "NFL"]
    with pytest.raises(Market.DoesNotExist):
        market_get(market_id="nope")
