"""The platform readers (Polymarket Gamma GET /markets, Kalshi events JSON and CSV, Manifold, PredictIt)
through `manage.py import_markets` and the import service.

Every record here is written by hand in the shape the platform serves (the public samples are
described in docs/market-import.md#platforms); the real samples themselves are imported by
test_platform_samples.py when they are on the machine.
"""
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from feedproject.vocabulary import CATEGORIES, OTHER
from markets.import_files import FORMATS_BY_NAME, ImportFileError, file_rows_read
from markets.importers import CATEGORY_ALIASES, MarketRow, RejectedRow, markets_import
from markets.models import CategoryAlias, Event, Market, MarketSnapshot
from markets.tests.test_import_markets import write_csv, write_json

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_markets", *map(str, args), stdout=out, stderr=err)
    return out.getvalue()


def run_fails(*args):
    with pytest.raises(CommandError) as failure:
        run(*args)
    return str(failure.value)


def market(market_id):
    return Market.objects.select_related("event").get(market_id=market_id)


def tag_slugs(m):
    return sorted(m.tags.values_list("slug", flat=True))


def snapshots(m):
    return list(MarketSnapshot.objects.filter(market=m).order_by("taken_at").values_list("taken_at", "probability"))


# --- Records in each platform's shape ------------------------------------------------------------

DEPORT_EVENT = {
    "id": "16282",
    "ticker": "how-many-people-will-trump-deport-in-2025",
    "slug": "how-many-people-will-trump-deport-in-2025",
    "title": "How many people will Trump deport in 2025?",
    "startDate": "2025-01-05T19:47:34.719608Z",
    "endDate": "2025-12-31T12:00:00Z",
    "image": "https://polymarket-upload.s3.us-east-2.amazonaws.com/deport.jpg",
    "active": True,
    "closed": False,
    "negRisk": True,
    "negRiskMarketID": "0xa697",
    "series": [
        {"id": "10525", "ticker": "deportation-count", "slug": "deportation-count", "title": "Deportation Count"},
    ],
}


def gamma_market(n=1, **fields):
    """A market of Gamma GET /markets: prices as a JSON string, its event nested in `events[]`."""
    return {
        "id": f"51731{n}",
        "question": f"Will Trump deport bracket {n}?",
        "conditionId": f"0xaf9d{n}",
        "slug": f"will-trump-deport-bracket-{n}",
        "endDate": "2025-12-31T12:00:00Z",
        "liquidity": "13635.28337",
        "startDate": "2025-01-05T18:49:12.543209Z",
        "image": "https://polymarket-upload.s3.us-east-2.amazonaws.com/deport.jpg",
        "icon": "https://polymarket-upload.s3.us-east-2.amazonaws.com/deport.jpg",
        "description": "During the 2024 FY ICE removed 271,484 non citizens.",
        "outcomes": '["Yes", "No"]',
        "outcomePrices": '["0.029", "0.971"]',
        "volume": "1018500.561838",
        "active": True,
        "closed": False,
        "createdAt": "2025-01-05T00:51:12.215249Z",
        "updatedAt": "2026-01-31T18:05:29.330507Z",
        "groupItemTitle": f"bracket {n}",
        "volumeNum": 1018500.561838,
        "volume24hr": 7080.049758,
        "negRisk": True,
        "negRiskMarketID": "0xa697",
        "events": [DEPORT_EVENT],
        "oneDayPriceChange": -0.0255,
        "lastTradePrice": 0.04,
        "bestBid": 0.02,
        "bestAsk": 0.038,
        **fields,
    }


def kalshi_market(ticker, **fields):
    """A market nested in a Kalshi event: prices in cents, and again in dollars as strings."""
    return {
        "id": f"0f8946ef-{ticker.lower()}",
        "ticker_name": ticker,
        "create_date": "2025-07-18T08:05:49.322772Z",
        "open_date": "2025-07-18T14:00:00Z",
        "close_date": "2070-01-01T15:00:00Z",
        "status": "active",
        "result": "",
        "yes_bid": 4,
        "yes_ask": 7,
        "last_price": 7,
        "previous_hour_price": 7,
        "previous_day_price": 7,
        "previous_week_price": 7,
        "yes_bid_dollars": "0.0400",
        "yes_ask_dollars": "0.0700",
        "last_price_dollars": "0.0700",
        "previous_day_price_dollars": "0.0700",
        "volume": 6530,
        "open_interest": 2400,
        "title": "Who will the next Pope be?",
        "name": "Pierbattista Pizzaballa",
        "yes_sub_title": "Pierbattista Pizzaballa",
        "no_sub_title": "Pierbattista Pizzaballa",
        **fields,
    }


def kalshi_event(ticker, markets, **fields):
    return {
        "ticker": ticker,
        "series_ticker": ticker.split("-")[0],
        "target_datetime": "2070-01-01T15:00:00Z",
        "mutually_exclusive": True,
        "title": "Who will the next Pope be?",
        "category": "World",
        "tags": None,
        "sub_title": "Before 2070",
        "markets": markets,
        **fields,
    }


def kalshi_events():
    return {"events": [
        kalshi_event("KXNEWPOPE-70", [
            kalshi_market("KXNEWPOPE-70-PPIZ"),
            kalshi_market(
                "KXNEWPOPE-70-PPAR", name="Pietro Parolin", yes_sub_title="Pietro Parolin", last_price=6,
                last_price_dollars="0.0600", previous_day_price=9, yes_bid=6, yes_ask=9, volume=18298,
            ),
        ]),
        kalshi_event("KXBLUESPACEX-30", [
            kalshi_market(
                "KXBLUESPACEX-30", title="Will Blue Origin land on the moon before SpaceX?", name="Before 2030",
                yes_sub_title="Before 2030", last_price=70, last_price_dollars="0.7000", previous_day_price=69,
                close_date="2030-01-01T15:00:00Z", create_date="2025-02-20T22:47:50.848036Z",
            ),
        ], title="Will Blue Origin land on the moon before SpaceX?", category="Science and Technology"),
        kalshi_event("KXHYPERLOOP-30", [
            kalshi_market(
                "KXHYPERLOOP-30", title="Will a hyperloop carry passengers before 2030?", name="Before 2030",
                last_price=12, last_price_dollars="0.1200", previous_day_price=12,
            ),
        ], title="Will a hyperloop carry passengers before 2030?", category="Transportation",
            tags=["Hyperloop", "Trains"]),
        kalshi_event("KXFEDDEC-25", [
            kalshi_market(
                "KXFEDDEC-25-H0", title="Will the Fed hike in December?", name="Hike", status="finalized",
                result="no", last_price=1, last_price_dollars="0.0100", previous_day_price=2, yes_bid=0, yes_ask=0,
            ),
            kalshi_market(
                "KXFEDDEC-25-C25", title="Will the Fed cut in December?", name="Cut 25bp", status="finalized",
                result="yes", last_price=99, last_price_dollars="0.9900", previous_day_price=97,
            ),
        ], title="Fed decision in December 2025", category="Economics"),
    ]}


KALSHI_CSV_FIELDS = [
    "event_id", "event_title", "event_category", "market_id", "market_ticker", "market_title", "yes_price",
    "no_price", "volume", "status", "close_date", "previous_day_price", "previous_week_price", "created_time",
]


def kalshi_csv_row(market_id, **fields):
    """A row of the flattened Kalshi export: many blank fields, prices in cents."""
    return {
        "event_id": "",
        "event_title": "Which of these African leaders will leave office next?",
        "event_category": "Politics",
        "market_id": market_id,
        "market_ticker": "",
        "market_title": "Will John Mahama leave office next in this set?",
        "yes_price": "",
        "no_price": "",
        "volume": "56",
        "status": "active",
        "close_date": "2035-01-01T15:00:00Z",
        "previous_day_price": "8.0",
        "previous_week_price": "8.0",
        "created_time": "",
        **fields,
    }


def manifold_market(slug, **fields):
    """A market of Manifold GET /v0/markets: times in epoch milliseconds, no groups."""
    return {
        "id": f"id-{slug}"[:10],
        "creatorId": "G6VshilGdXb9s1Mx0sxwhho6Jvc2",
        "creatorUsername": "someone",
        "createdTime": 1769882755693,
        "closeTime": 1772236740000,
        "question": "Will an AI agent sue a human by Feb 28?",
        "slug": slug,
        "url": f"https://manifold.markets/someone/{slug}",
        "pool": {"NO": 100, "YES": 100},
        "probability": 0.42,
        "p": 0.42,
        "totalLiquidity": 100,
        "outcomeType": "BINARY",
        "mechanism": "cpmm-1",
        "volume": 250.5,
        "volume24Hours": 12.25,
        "isResolved": False,
        "uniqueBettorCount": 7,
        "lastUpdatedTime": 1769882755739,
        **fields,
    }


def manifold_markets():
    return [
        manifold_market("ai-agent-sues-a-human"),
        manifold_market(
            "australian-open-mens-final-exact-se", question="Australian Open Men's Final: Exact Set Score",
            outcomeType="MULTIPLE_CHOICE", mechanism="cpmm-multi-1", probability=None, p=None,
        ),
        manifold_market(
            "would-a-government-of-random-citizens", question="Would a government of random citizens do better?",
            outcomeType="POLL", mechanism="none", probability=None, p=None,
        ),
        manifold_market(
            "quien-ganara-la-copa-america", question="¿Quién ganará la Copa América 2026? ⚽ 決勝",
            probability=0.61, createdTime=1767225600000, closeTime=None,
        ),
        manifold_market(
            "will-bitcoin-reach-150k-in-2025", question="Will Bitcoin reach $150k in 2025?", isResolved=True,
            resolution="NO", probability=0.03, closeTime=1767225599000, lastUpdatedTime=1767225600000,
        ),
    ]


def predictit_contract(contract_id, **fields):
    """A contract of a PredictIt market: one yes/no outcome, prices in dollars 0-1, times without an offset."""
    return {
        "id": contract_id,
        "dateEnd": "NA",
        "image": "https://cdn1.predictit.org/images/Contracts/small_dd478de0.png",
        "name": "192 or fewer",
        "shortName": "192 or fewer",
        "status": "Open",
        "lastTradePrice": 0.25,
        "bestBuyYesCost": 0.26,
        "bestBuyNoCost": 0.75,
        "bestSellYesCost": 0.25,
        "bestSellNoCost": 0.74,
        "lastClosePrice": 0.24,
        "displayOrder": 0,
        **fields,
    }


def predictit_markets():
    return {"markets": [
        {
            "id": 8268,
            "name": "Will SCOTUS strike down Trump tariffs?",
            "shortName": "SCOTUS strikes Trump tariffs?",
            "image": "https://cdn1.predictit.org/images/Markets/7e4e2124.jpg",
            "url": "https://www.predictit.org/markets/detail/8268/Will-SCOTUS-strike-down-Trump-tariffs",
            "contracts": [predictit_contract(
                32410, name="Will SCOTUS strike down Trump tariffs?", dateEnd="2026-07-10T23:59:00",
                lastTradePrice=0.73, lastClosePrice=0.72,
            )],
            "timeStamp": "2026-01-31T13:10:26.3247098",
            "status": "Open",
        },
        {
            "id": 7589,
            "name": "How many House seats will Republicans win in the 2026 midterm election?",
            "shortName": "Republican House Seats won in midterms?",
            "image": "https://cdn1.predictit.org/images/Markets/b2def0a6.jpg",
            "url": "https://www.predictit.org/markets/detail/7589/How-many-House-seats",
            "contracts": [
                predictit_contract(28361),
                predictit_contract(28362, name="193 to 197", lastTradePrice=0, bestBuyYesCost=0.11,
                                   bestSellYesCost=0.08, lastClosePrice=0.07),
                predictit_contract(28369, name="198 to 202", status="Closed", lastTradePrice=0.09,
                                   lastClosePrice=0.09),
            ],
            "timeStamp": "2026-01-31T13:10:26.3247098",
            "status": "Open",
        },
    ]}


# --- Polymarket Gamma GET /markets -----------------------------------------------------------------


def test_gamma_markets_take_their_event_series_and_price_from_the_nested_event(tmp_path):
    path = write_json(tmp_path / "gamma.json", [gamma_market(1), gamma_market(2, outcomePrices='["0.8615", "0.1385"]')])
    out = run(path)
    assert "Polymarket Gamma markets JSON, 2 rows" in out
    assert "created 2, updated 0, unchanged 0, rejected 0" in out and "1 new events" in out

    one, two = market("will-trump-deport-bracket-1"), market("will-trump-deport-bracket-2")
    assert one.event_id == two.event_id  # the negRisk outcomes of one question share events[0]
    event = Event.objects.get()
    assert (event.event_id, event.title, event.slug, event.series) == (
        "polymarket-16282", "How many people will Trump deport in 2025?",
        "how-many-people-will-trump-deport-in-2025", "polymarket-deportation-count",
    )
    assert (one.probability, two.probability) == (0.029, 0.8615)
    assert one.category == "Politics"  # no category or tag on the event: the title's "Trump"
    assert tag_slugs(one) == []
    assert one.volume_total == pytest.approx(1018500.561838)
    assert one.volume_24h == pytest.approx(7080.049758)
    assert one.created_at == datetime(2025, 1, 5, 0, 51, 12, 215249, tzinfo=UTC)
    assert one.resolution_date == datetime(2025, 12, 31, 12, tzinfo=UTC)
    assert one.status == Market.Status.OPEN


def test_gamma_market_tags_and_category_come_from_its_event(tmp_path):
    event = {**DEPORT_EVENT, "id": "90001", "title": "NBA Finals", "tags": [
        {"id": "1", "label": "Sports", "slug": "sports"}, {"id": "745", "label": "NBA", "slug": "nba"},
        {"id": "100215", "label": "All", "slug": "all"},
    ]}
    path = write_json(tmp_path / "gamma.json", [gamma_market(1, question="Celtics win the title?", events=[event])])
    run(path)
    m = market("will-trump-deport-bracket-1")
    assert m.category == "Sports"
    assert tag_slugs(m) == ["nba", "sports"]  # the navigation tag "All" is dropped
    assert m.event.event_id == "polymarket-90001"


def test_gamma_negrisk_outcomes_without_an_event_are_grouped_by_their_negrisk_id(tmp_path):
    rows = [gamma_market(n, events=None, negRiskMarketID="0xBEEF") for n in (1, 2, 3)]
    rows.append(gamma_market(4, events=None, negRisk=False, negRiskMarketID=None, question="Will it snow in Paris?"))
    run(write_json(tmp_path / "gamma.json", rows))
    grouped = Market.objects.filter(event__event_id="polymarket-negrisk-0xbeef")
    assert grouped.count() == 3
    assert Event.objects.get().title == "Will Trump deport bracket 1?"  # the first outcome names the event
    alone = market("will-trump-deport-bracket-4")
    assert alone.event is None
    assert alone.category == "Weather"


def test_gamma_closed_markets_resolve_on_a_final_price_and_missing_prices_are_rejected(tmp_path):
    rows = [
        gamma_market(1, closed=True, outcomePrices='["1", "0"]'),
        gamma_market(2, closed=True, outcomePrices='["0.5", "0.5"]'),
        gamma_market(3, outcomePrices="", lastTradePrice=None),
        gamma_market(4, outcomePrices="", lastTradePrice=0.31, endDate="", question="Crème brûlée — 🍮 à Paris?"),
    ]
    out = run(write_json(tmp_path / "gamma.json", rows))
    assert (market("will-trump-deport-bracket-1").status, market("will-trump-deport-bracket-1").probability) == (
        Market.Status.RESOLVED, 1.0)
    assert market("will-trump-deport-bracket-2").status == Market.Status.CLOSED
    assert "rejected [2] [will-trump-deport-bracket-3]: no price" in out
    four = market("will-trump-deport-bracket-4")
    assert (four.title, four.probability, four.resolution_date) == ("Crème brûlée — 🍮 à Paris?", 0.31, None)


# --- Kalshi events JSON ---------------------------------------------------------------------------


def test_kalshi_events_map_cents_outcomes_categories_and_events(tmp_path):
    out = run(write_json(tmp_path / "kalshi.json", kalshi_events()))
    assert "Kalshi events JSON, 6 rows" in out
    assert "created 6, updated 0, unchanged 0, rejected 0" in out and "4 new events" in out

    pizzaballa, parolin = market("kalshi-0f8946ef-kxnewpope-70-ppiz"), market("kalshi-0f8946ef-kxnewpope-70-ppar")
    assert pizzaballa.title == "Who will the next Pope be? — Pierbattista Pizzaballa"  # the outcome is named
    assert (pizzaballa.probability, parolin.probability) == (0.07, 0.06)  # last_price in cents
    assert pizzaballa.category == parolin.category == "World"
    assert pizzaballa.event == parolin.event
    assert (pizzaballa.event.event_id, pizzaballa.event.series, pizzaballa.event.title) == (
        "kalshi-kxnewpope-70", "kalshi-kxnewpope", "Who will the next Pope be?")
    assert pizzaballa.volume_total == 6530
    assert pizzaballa.created_at == datetime(2025, 7, 18, 8, 5, 49, 322772, tzinfo=UTC)
    assert pizzaballa.resolution_date == datetime(2070, 1, 1, 15, tzinfo=UTC)

    spacex = market("kalshi-0f8946ef-kxbluespacex-30")
    assert spacex.title == "Will Blue Origin land on the moon before SpaceX?"  # one market: no outcome suffix
    assert spacex.category == "Science & Tech"  # "Science and Technology"
    hyperloop = market("kalshi-0f8946ef-kxhyperloop-30")
    assert hyperloop.category == "Transportation"  # unknown to the taxonomy: kept as Kalshi's own
    assert tag_slugs(hyperloop) == ["hyperloop", "trains"]
    assert tag_slugs(spacex) == []  # tags: null

    hike, cut = market("kalshi-0f8946ef-kxfeddec-25-h0"), market("kalshi-0f8946ef-kxfeddec-25-c25")
    assert (hike.status, hike.probability) == (Market.Status.RESOLVED, 0.0)  # finalized, result "no"
    assert (cut.status, cut.probability) == (Market.Status.RESOLVED, 1.0)
    assert cut.category == "Business"  # "Economics"
    categories = set(Market.objects.values_list("category", flat=True))
    assert categories == {"World", "Science & Tech", "Transportation", "Business"}


def test_kalshi_previous_day_price_is_a_snapshot_24_hours_earlier(tmp_path):
    path = write_json(tmp_path / "kalshi.json", kalshi_events())
    name, rows = file_rows_read(path)
    assert name == "kalshi-json"
    result = markets_import(rows=rows, now=NOW)
    assert result.created == 6
    parolin = market("kalshi-0f8946ef-kxnewpope-70-ppar")
    assert snapshots(parolin) == [(NOW - timedelta(hours=24), 0.09), (NOW, 0.06)]
    # An unchanged previous-day price is a snapshot too: it says the odds did not move.
    assert snapshots(market("kalshi-0f8946ef-kxnewpope-70-ppiz")) == [(NOW - timedelta(hours=24), 0.07), (NOW, 0.07)]
    # A resolved market's previous-day price is not a move to record.
    assert snapshots(market("kalshi-0f8946ef-kxfeddec-25-c25")) == [(NOW, 1.0)]
    assert result.snapshots == 6 + 4  # one now each, one a day earlier for each open market


def test_kalshi_market_created_within_the_day_gets_no_earlier_snapshot():
    event = kalshi_events()["events"][0]
    event["markets"][0]["create_date"] = (NOW - timedelta(hours=3)).isoformat()
    rows = FORMATS_BY_NAME["kalshi-json"].read(event, where="[0]", aliases=CATEGORY_ALIASES)
    markets_import(rows=rows, now=NOW)
    assert snapshots(market("kalshi-0f8946ef-kxnewpope-70-ppiz")) == [(NOW, 0.07)]


def test_kalshi_prices_fall_back_to_dollars_then_the_bid_ask_midpoint_then_yesterday(tmp_path):
    markets = [
        kalshi_market("KXA-1", last_price=0, last_price_dollars="0.3300"),
        kalshi_market("KXA-2", last_price=None, last_price_dollars=None, yes_bid=40, yes_ask=50),
        kalshi_market("KXA-3", last_price=0, last_price_dollars="0.0000", yes_bid=0, yes_ask=0, previous_day_price=15),
        kalshi_market("KXA-4", last_price=0, last_price_dollars="", yes_bid=0, yes_ask=None, previous_day_price=0),
        kalshi_market("KXA-5", last_price=150),
        kalshi_market("KXA-6", status="halted"),
        kalshi_market("KXA-7", close_date="", create_date="", open_date=""),
    ]
    out = run(write_json(tmp_path / "kalshi.json", {"events": [kalshi_event("KXA-1", markets)]}))
    assert market("kalshi-0f8946ef-kxa-1").probability == 0.33
    assert market("kalshi-0f8946ef-kxa-2").probability == 0.45
    three = market("kalshi-0f8946ef-kxa-3")
    assert three.probability == 0.15
    assert len(snapshots(three)) == 1  # yesterday's price stands for now: no move is invented
    assert "rejected events[0] markets[3]: no price: the last, yes/no and previous-day prices are all empty" in out
    assert "rejected events[0] markets[4]: last_price 150 is outside 0..100" in out
    assert "rejected events[0] markets[5]: status 'halted' is not a Kalshi market status" in out
    seven = market("kalshi-0f8946ef-kxa-7")
    assert seven.resolution_date is None
    assert seven.created_at is not None  # blank dates: created at the import's time


def test_an_event_without_nested_markets_is_rejected_with_the_reason(tmp_path):
    event = kalshi_event("KXNEWPOPE-70", [])
    del event["markets"]
    message = run_fails(write_json(tmp_path / "kalshi.json", {"events": [event]}))
    assert "with_nested_markets=true" in message
    assert message.count("\n") == 0


def test_an_editors_category_alias_maps_a_kalshi_category(tmp_path):
    CategoryAlias.objects.create(label="Transportation", category="Science & Tech")
    run(write_json(tmp_path / "kalshi.json", kalshi_events()))
    assert market("kalshi-0f8946ef-kxhyperloop-30").category == "Science & Tech"


# --- Kalshi CSV export ----------------------------------------------------------------------------


def test_kalshi_csv_rows_map_cents_and_group_by_the_event_title(tmp_path):
    rows = [
        kalshi_csv_row("7f8864e5-d765-4de8-bc73-eb4b82dae6ae"),
        kalshi_csv_row("ebf92667-9cd6-4fa1-95f5-49c10be3a34e",
                       market_title="Will Abdelmadjid Tebboune leave office next in this set?", yes_price="11"),
        kalshi_csv_row("6927c453-c042-4a37-994d-6a9e4cd920c7", event_title="Who will be cast in the next Miami Vice?",
                       event_category="Entertainment", market_title="Will Ryan Gosling be cast in Miami Vice?",
                       no_price="77", previous_day_price="23.0", created_time="2025-03-01T10:00:00Z"),
        kalshi_csv_row("f1a31d77-f7db-4a72-a5be-b92791aab1c2", event_id="KXMARS-99", event_title="Elon on Mars?",
                       event_category="", market_title="Will SpaceX land Elon Musk on Mars before 2099?",
                       previous_day_price="", yes_price="8", close_date=""),
        kalshi_csv_row("dead0000-0000-0000-0000-000000000000", previous_day_price=""),
    ]
    path = write_csv(tmp_path / "kalshi.csv", KALSHI_CSV_FIELDS, rows)
    name, parsed = file_rows_read(path)
    assert name == "kalshi-csv"
    result = markets_import(rows=parsed, now=NOW)
    assert (result.created, len(result.rejected)) == (4, 1)
    assert result.rejected[0].reason.startswith("no price")
    assert result.rejected[0].where == "line 6"

    mahama = market("kalshi-7f8864e5-d765-4de8-bc73-eb4b82dae6ae")
    assert mahama.probability == 0.08  # only yesterday's price: it stands for now
    assert (mahama.category, mahama.created_at) == ("Politics", NOW)  # blank created_time
    assert snapshots(mahama) == [(NOW, 0.08)]
    tebboune = market("kalshi-ebf92667-9cd6-4fa1-95f5-49c10be3a34e")
    assert tebboune.probability == 0.11
    assert snapshots(tebboune) == [(NOW - timedelta(hours=24), 0.08), (NOW, 0.11)]
    assert mahama.event == tebboune.event
    assert mahama.event.event_id == "kalshi-which-of-these-african-leaders-will-leave-office-next"
    assert mahama.event.series == ""

    gosling = market("kalshi-6927c453-c042-4a37-994d-6a9e4cd920c7")
    assert gosling.probability == pytest.approx(0.23)  # 1 - no_price
    assert gosling.category == "Culture"  # "Entertainment"
    assert snapshots(gosling)[0] == (NOW - timedelta(hours=24), 0.23)
    mars = market("kalshi-f1a31d77-f7db-4a72-a5be-b92791aab1c2")
    assert mars.event.event_id == "kalshi-kxmars-99"
    assert mars.category == "Science & Tech"  # a blank category: the title's "SpaceX", through the tag rules
    assert mars.resolution_date is None


def test_a_kalshi_csv_without_the_price_column_is_read_with_format(tmp_path):
    fields = [f for f in KALSHI_CSV_FIELDS if f != "yes_price"]
    row = {k: v for k, v in kalshi_csv_row("7f8864e5-d765-4de8-bc73-eb4b82dae6ae").items() if k != "yes_price"}
    path = write_csv(tmp_path / "kalshi.csv", fields, [row])
    message = run_fails(path)
    assert "no rows imported: the file looks like a CSV file with the columns" in message
    out = run(path, "--format", "kalshi-csv")
    assert "Kalshi markets CSV, 1 rows" in out
    assert market("kalshi-7f8864e5-d765-4de8-bc73-eb4b82dae6ae").probability == 0.08


# --- Manifold GET /v0/markets ---------------------------------------------------------------------


def test_manifold_binary_markets_import_and_other_kinds_are_skipped_with_a_reason(tmp_path):
    out = run(write_json(tmp_path / "manifold.json", manifold_markets()))
    assert "Manifold markets JSON, 5 rows" in out
    assert "created 3, updated 0, unchanged 0, rejected 2" in out
    assert "rejected [1] [australian-open-mens-final-exact-se]: skipped: a MULTIPLE_CHOICE market" in out
    assert "rejected [2] [would-a-government-of-random-citizens]: skipped: a POLL market" in out

    agent = market("manifold-ai-agent-sues-a-human")
    assert agent.created_at == datetime(2026, 1, 31, 18, 5, 55, 693000, tzinfo=UTC)  # epoch milliseconds
    assert agent.resolution_date == datetime(2026, 2, 27, 23, 59, tzinfo=UTC)
    assert (agent.probability, agent.volume_total, agent.volume_24h, agent.participant_count) == (0.42, 250.5, 12.25, 7)
    assert agent.status == Market.Status.OPEN
    assert agent.category == "Science & Tech"  # no groups in the list: the title's "AI"
    assert agent.event is None
    assert tag_slugs(agent) == []

    copa = market("manifold-quien-ganara-la-copa-america")
    assert copa.title == "¿Quién ganará la Copa América 2026? ⚽ 決勝"
    assert copa.resolution_date is None
    assert copa.category == "Sports"  # "Copa América" matches the copa-america tag rule, accent or not

    bitcoin = market("manifold-will-bitcoin-reach-150k-in-2025")
    assert (bitcoin.status, bitcoin.probability, bitcoin.category) == (Market.Status.RESOLVED, 0.0, "Crypto")


def test_manifold_closed_cancelled_and_grouped_markets(tmp_path):
    rows = [
        manifold_market("closed-before-update", closeTime=1769882755000, lastUpdatedTime=1769882755739),
        manifold_market("cancelled", isResolved=True, resolution="CANCEL", probability=0.4),
        manifold_market("resolved-to-a-percent", isResolved=True, resolution="MKT", resolutionProbability=0.8),
        manifold_market("grouped", question="Who wins?", groupSlugs=["nba", "basketball"]),
        manifold_market("no-probability", probability=None),
        manifold_market("", id="xK9", question="A market with only an id"),
    ]
    out = run(write_json(tmp_path / "manifold.json", rows))
    assert market("manifold-closed-before-update").status == Market.Status.CLOSED
    assert market("manifold-cancelled").status == Market.Status.CLOSED
    assert market("manifold-resolved-to-a-percent").probability == 0.8
    grouped = market("manifold-grouped")
    assert (grouped.category, tag_slugs(grouped)) == ("Sports", ["basketball", "nba"])
    assert "rejected [4] [no-probability]: probability is missing" in out
    assert market("manifold-xk9").title == "A market with only an id"


def test_a_manifold_file_of_only_skipped_kinds_fails_the_command(tmp_path):
    rows = [m for m in manifold_markets() if m["outcomeType"] != "BINARY"]
    message = run_fails(write_json(tmp_path / "manifold.json", rows))
    assert message.endswith(
        "no rows imported: the file looks like Manifold markets JSON, and all 2 of its rows were rejected "
        "(first, [0]: skipped: a MULTIPLE_CHOICE market (only BINARY markets are imported))"
    )
    assert Market.objects.count() == 0


# --- PredictIt GET /api/marketdata/all/ ----------------------------------------------------------


def test_predictit_markets_are_events_with_one_market_per_contract(tmp_path):
    out = run(write_json(tmp_path / "predictit.json", predictit_markets()))
    assert "PredictIt markets JSON, 4 rows" in out
    assert "created 4, updated 0, unchanged 0, rejected 0" in out and "2 new events" in out

    seats = Event.objects.get(event_id="predictit-7589")
    assert seats.title == "How many House seats will Republicans win in the 2026 midterm election?"
    assert seats.slug == "how-many-house-seats"
    contracts = {m.market_id: m for m in Market.objects.filter(event=seats)}
    assert set(contracts) == {"predictit-28361", "predictit-28362", "predictit-28369"}
    fewer = contracts["predictit-28361"]
    assert fewer.title == "How many House seats will Republicans win in the 2026 midterm election? — 192 or fewer"
    assert fewer.probability == 0.25
    assert fewer.resolution_date is None  # dateEnd "NA"
    assert fewer.category == "Politics"  # a political exchange
    assert fewer.image_url == "https://cdn1.predictit.org/images/Markets/b2def0a6.jpg"
    assert contracts["predictit-28362"].probability == pytest.approx(0.095)  # no trade: the yes offers' midpoint
    assert contracts["predictit-28369"].status == Market.Status.CLOSED

    tariffs = market("predictit-32410")
    assert tariffs.title == "Will SCOTUS strike down Trump tariffs?"  # the contract is the market: no suffix
    assert tariffs.event.event_id == "predictit-8268"
    assert tariffs.resolution_date == datetime(2026, 7, 11, 3, 59, tzinfo=UTC)  # US Eastern, summer time


def test_predictit_last_close_is_the_previous_day_snapshot(tmp_path):
    name, rows = file_rows_read(write_json(tmp_path / "predictit.json", predictit_markets()))
    assert name == "predictit-json"
    markets_import(rows=rows, now=NOW)
    assert snapshots(market("predictit-32410")) == [(NOW - timedelta(hours=24), 0.72), (NOW, 0.73)]
    assert snapshots(market("predictit-28369")) == [(NOW, 0.09)]  # closed: no move to record


def test_predictit_bad_contracts_are_rejected_one_by_one(tmp_path):
    payload = predictit_markets()
    payload["markets"][1]["contracts"][0].update(lastTradePrice=None, bestBuyYesCost=None, bestSellYesCost=None)
    payload["markets"][1]["contracts"][1].update(status="Suspended")
    payload["markets"][1]["contracts"].append("not a contract")
    payload["markets"].append({"id": 1, "name": "No contracts here"})
    out = run(write_json(tmp_path / "predictit.json", payload))
    assert "created 2, updated 0, unchanged 0, rejected 4" in out
    assert "rejected markets[1] contracts[0]: no price: lastTradePrice and the best yes offers are empty" in out
    assert "rejected markets[1] contracts[1]: status 'Suspended' is not Open or Closed" in out
    assert "rejected markets[1] contracts[3]: contract is not an object" in out
    assert "rejected markets[2]: market has no contracts list" in out



# --- Every format: idempotence, detection, refusals ------------------------------------------------

SHAPES = {
    "gamma-markets-json": lambda: [gamma_market(1), gamma_market(2)],
    "kalshi-json": kalshi_events,
    "manifold-json": manifold_markets,
    "predictit-json": predictit_markets,
}


def write_shape(tmp_path, name):
    if name == "kalshi-csv":
        rows = [kalshi_csv_row("7f8864e5"), kalshi_csv_row("ebf92667", yes_price="11", market_title="Tebboune?")]
        return write_csv(tmp_path / "kalshi.csv", KALSHI_CSV_FIELDS, rows)
    return write_json(tmp_path / f"{name}.json", SHAPES[name]())


ALL_SHAPES = [*SHAPES, "kalshi-csv"]


@pytest.mark.parametrize("name", ALL_SHAPES)
def test_a_second_import_of_the_same_file_changes_nothing(tmp_path, name):
    path = write_shape(tmp_path, name)
    first = run(path)
    assert ", updated 0," in first and "created 0," not in first
    state = (
        list(Market.objects.order_by("market_id").values()),
        list(Event.objects.order_by("event_id").values()),
        MarketSnapshot.objects.count(),
    )
    second = run(path)
    assert "created 0, updated 0," in second
    assert "; wrote 0 snapshots, 0 new tags, 0 new events" in second
    assert (
        list(Market.objects.order_by("market_id").values()),
        list(Event.objects.order_by("event_id").values()),
        MarketSnapshot.objects.count(),
    ) == state


@pytest.mark.parametrize("name", ALL_SHAPES)
def test_each_platform_shape_is_detected_as_its_own_format(tmp_path, name):
    kind, rows = file_rows_read(write_shape(tmp_path, name))
    assert kind == name
    rows = list(rows)
    assert any(isinstance(r, MarketRow) for r in rows)


@pytest.mark.parametrize(
    "record, expected",
    [
        (gamma_market(1), "gamma-markets-json"),
        (kalshi_events()["events"][0], "kalshi-json"),
        (manifold_markets()[0], "manifold-json"),
        (manifold_markets()[1], "manifold-json"),  # a skipped kind is still Manifold's, not Gamma's (`question`)
        (predictit_markets()["markets"][0], "predictit-json"),
    ],
)
def test_one_record_of_each_platform_on_its_own_or_as_jsonl_is_detected(tmp_path, record, expected):
    assert file_rows_read(write_json(tmp_path / "one.json", record))[0] == expected
    lines = tmp_path / "lines.jsonl"
    lines.write_text(json.dumps(record) + "\n" + json.dumps(record) + "\n")
    assert file_rows_read(lines)[0] == expected


def test_a_file_of_no_known_format_fails_with_one_line_saying_what_it_looks_like(tmp_path):
    path = write_json(tmp_path / "other.json", [{"symbol": "BTC", "price": 1}])
    message = run_fails(path)
    assert message == (
        f"{path}: no rows imported: the file looks like JSON objects with the keys price, symbol, "
        "which is none of the known formats"
    )
    csv_path = tmp_path / "other.csv"
    csv_path.write_text("symbol,price\nBTC,1\n")
    assert run_fails(csv_path).endswith("the file looks like a CSV file with the columns price, symbol, "
                                        "which is none of the known formats")
    assert Market.objects.count() == 0


@pytest.mark.parametrize(
    "name, forced", [("kalshi-json", "predictit-json"), ("predictit-json", "manifold-json"),
                     ("manifold-json", "kalshi-json")],
)
def test_a_file_forced_into_the_wrong_format_rejects_every_row_and_fails(tmp_path, name, forced):
    message = run_fails(write_shape(tmp_path, name), "--format", forced)
    assert "no rows imported: the file looks like" in message
    assert "rows were rejected" in message
    assert Market.objects.count() == 0


def test_format_forces_a_format_detection_would_not_pick(tmp_path):
    # Manifold records whose first has lost its outcomeType: detection cannot tell, --format can.
    rows = manifold_markets()
    del rows[0]["outcomeType"]
    path = write_json(tmp_path / "manifold.json", rows)
    assert file_rows_read(path)[0] == "gamma-markets-json"  # a `question`: the nearest signature
    out = run(path, "--format", "manifold-json")
    assert "Manifold markets JSON, 5 rows" in out
    assert "rejected [0] [ai-agent-sues-a-human]: skipped: an untyped market" in out
    assert Market.objects.filter(market_id__startswith="manifold-").count() == 2


def test_format_must_match_the_file_kind(tmp_path):
    message = run_fails(write_shape(tmp_path, "kalshi-json"), "--format", "kalshi-csv")
    assert "--format kalshi-csv reads CSV; this file is not" in message
    with pytest.raises(ImportFileError):
        file_rows_read(write_shape(tmp_path, "kalshi-json"), format="nope")


def test_every_platform_category_is_on_the_taxonomy_or_kept_as_the_platforms_own(tmp_path):
    for name in ALL_SHAPES:
        run(write_shape(tmp_path, name))
    categories = set(Market.objects.values_list("category", flat=True))
    assert categories - set(CATEGORIES) == {"Transportation"}  # Kalshi's own label, unknown to the taxonomy
    assert len(categories & set(CATEGORIES) - {OTHER}) >= 4


def test_the_service_reports_rejected_rows_in_file_order():
    rows = [RejectedRow("[0]", "a", "bad"), MarketRow(where="[1]", market_id="b", fields={
        "title": "B", "probability": 0.5})]
    result = markets_import(rows=rows, now=NOW)
    assert (result.created, [r.where for r in result.rejected]) == (1, ["[0]"])


def test_a_bare_kalshi_market_is_not_taken_for_a_gamma_event(tmp_path):
    # Kalshi GET /markets (not an accepted format): its `ticker` must not make it a Polymarket event.
    record = {"ticker": "KXNEWPOPE-70-PPIZ", "event_ticker": "KXNEWPOPE-70", "title": "Who?", "last_price": 7}
    message = run_fails(write_json(tmp_path / "kalshi_markets.json", {"markets": [record]}))
    assert "the file looks like JSON objects with the keys event_ticker, last_price, ticker, title" in message
    assert "Gamma" not in message


def test_kalshi_markets_with_the_trade_apis_own_field_names(tmp_path):
    # GET /events?with_nested_markets=true as the Trade API documents it: ticker, open_time, close_time,
    # previous_price, volume_24h; no id, no create_date.
    record = {
        "ticker": "KXHIGHNY-26FEB01-B40", "event_ticker": "KXHIGHNY-26FEB01", "title": "High in NYC on Feb 1?",
        "yes_sub_title": "39° to 40°", "status": "active", "last_price": 31, "previous_price": 25,
        "yes_bid": 30, "yes_ask": 32, "volume": 5000, "volume_24h": 1200,
        "open_time": "2026-01-30T15:00:00Z", "close_time": "2026-02-02T04:59:00Z", "result": "",
    }
    event = {
        "event_ticker": "KXHIGHNY-26FEB01", "series_ticker": "KXHIGHNY", "title": "Highest temperature in NYC on Feb 1",
        "category": "Climate and Weather", "markets": [record, {**record, "ticker": "KXHIGHNY-26FEB01-B42",
                                                                "yes_sub_title": "41° to 42°", "last_price": 40}],
    }
    path = write_json(tmp_path / "kalshi.json", {"events": [event], "cursor": ""})
    kind, rows = file_rows_read(path)
    assert kind == "kalshi-json"
    markets_import(rows=rows, now=NOW)
    m = market("kalshi-kxhighny-26feb01-b40")
    assert m.title == "High in NYC on Feb 1? — 39° to 40°"
    assert (m.probability, m.category, m.volume_24h, m.volume_total) == (0.31, "Weather", 1200, 5000)
    assert m.created_at == datetime(2026, 1, 30, 15, tzinfo=UTC)
    assert m.resolution_date == datetime(2026, 2, 2, 4, 59, tzinfo=UTC)
    assert (m.event.event_id, m.event.series) == ("kalshi-kxhighny-26feb01", "kalshi-kxhighny")
    # The earlier snapshot carries the earlier total: the day's volume had not traded yet.
    earlier = MarketSnapshot.objects.filter(market=m).order_by("taken_at").first()
    assert (earlier.taken_at, earlier.probability, earlier.volume_total) == (NOW - timedelta(hours=24), 0.25, 3800)


def test_a_dry_run_of_a_platform_file_counts_its_events_and_writes_nothing(tmp_path):
    path = write_json(tmp_path / "predictit.json", predictit_markets())
    out = run(path, "--dry-run")
    # 4 at the import, 3 a day earlier: the closed contract records no move.
    assert "created 4, updated 0, unchanged 0, rejected 0; would write 7 snapshots, 2 new events" in out
    assert not Market.objects.exists() and not Event.objects.exists()


def test_a_gamma_category_no_alias_knows_is_kept_when_tags_and_title_say_nothing(tmp_path):
    quiet = "Will the new line open on time?"
    rows = [
        gamma_market(1, question=quiet, events=[{**DEPORT_EVENT, "id": "1", "category": "Transportation"}]),
        gamma_market(2, question=quiet, events=[{**DEPORT_EVENT, "id": "2", "category": "Sports-"}]),
        gamma_market(3, question=quiet, events=[{**DEPORT_EVENT, "id": "3", "category": "Transportation",
                                                 "tags": [{"slug": "nba", "label": "NBA"}]}]),
        gamma_market(4, question=quiet, events=[{**DEPORT_EVENT, "id": "4"}]),
    ]
    run(write_json(tmp_path / "gamma.json", rows))
    assert [market(f"will-trump-deport-bracket-{n}").category for n in (1, 2, 3, 4)] == [
        "Transportation",  # the platform named a topic: kept, not Other
        "Sports",  # a legacy spelling the aliases know
        "Sports",  # the tags decide before an unknown label
        OTHER,  # nothing named any topic
    ]
