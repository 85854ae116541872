import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import feedproject.cache
from markets.importers import MarketRow, markets_import
from markets.models import Market, MarketSnapshot, Tag
from markets.tests.factories import MarketFactory, TagFactory

pytestmark = pytest.mark.django_db

OWN_FIELDS = [
    "market_id", "title", "description", "category", "tags", "probability", "volume_24h", "volume_total",
    "participant_count", "image_url", "status", "created_at", "resolution_date", "event_start_at", "news_at",
    "editorial_description",
]
GAMMA_CSV_FIELDS = [
    "market_id", "event_id", "event_slug", "event_title", "question", "market_slug", "group_item_title",
    "description", "outcomes", "outcome_prices", "last_trade_price", "winning_outcome", "volume", "volume_24hr",
    "volume_1wk", "volume_1mo", "liquidity", "one_day_price_change", "one_week_price_change", "spread",
    "event_volume", "event_comment_count", "event_tag_labels", "event_tag_slugs", "event_category",
    "market_category", "series_slug", "created_at", "start_date", "end_date", "closed_time", "active", "closed",
    "neg_risk", "uma_resolution_status",
]


def own_market(n=1, **fields):
    return {
        "market_id": f"market-{n}",
        "title": f"Will thing {n} happen?",
        "description": "Resolves Yes if it happens.",
        "category": "Sports",
        "tags": ["NBA", "Playoffs"],
        "probability": 0.25,
        "volume_24h": 1200.5,
        "volume_total": 90000.0,
        "participant_count": 321,
        "image_url": f"https://img.example/{n}.png",
        "status": "open",
        "created_at": "2024-05-01T10:00:00Z",
        "resolution_date": "2024-06-01T00:00:00+02:00",
        "event_start_at": "2024-05-20T19:30:00",
        "news_at": None,
        "editorial_description": "Editors' pick.",
        **fields,
    }


def write_json(path, payload, *, gz=False):
    data = json.dumps(payload).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_csv(path, fieldnames, rows, *, gz=False):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    data = out.getvalue().encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def own_csv_row(market):
    row = {k: ("" if v is None else v) for k, v in market.items()}
    row["tags"] = "|".join(market["tags"])
    return row


def gamma_csv_row(**fields):
    row = dict.fromkeys(GAMMA_CSV_FIELDS, "")
    row.update({
        "market_id": "512345",
        "event_id": "90001",
        "question": "Will the Fed cut rates in March?",
        "market_slug": "will-the-fed-cut-rates-in-march",
        "description": "Resolves per the FOMC statement.",
        "outcomes": '["Yes", "No"]',
        "outcome_prices": '["0.83", "0.17"]',
        "last_trade_price": "0.8",
        "winning_outcome": "",
        "volume": "152000.5",
        "volume_24hr": "2100",
        "event_tag_labels": "Fed Rates|All|Economy",
        "event_tag_slugs": "fed-rates|all|economy",
        "created_at": "2024-01-10T12:00:00.5Z",
        "start_date": "2024-01-11T00:00:00Z",
        "end_date": "2024-03-20T00:00:00Z",
        "active": "True",
        "closed": "False",
    })
    row.update(fields)
    return row


def gamma_event(**fields):
    return {
        "id": "70001",
        "ticker": "nba-finals-game-1",
        "slug": "nba-finals-game-1",
        "title": "NBA Finals Game 1",
        "category": None,
        "image": "https://img.example/event.png",
        "startTime": "2024-06-06T00:30:00Z",
        "tags": [
            {"id": "100215", "label": "All", "slug": "all"},
            {"id": "1", "label": "Sports", "slug": "sports"},
            {"id": "745", "label": "NBA", "slug": "nba"},
        ],
        "markets": [
            {
                "id": "600001",
                "slug": "celtics-vs-mavericks-game-1",
                "question": "Celtics vs. Mavericks: Game 1",
                "description": "Winner of game 1.",
                "outcomes": '["Celtics", "Mavericks"]',
                "outcomePrices": '["0.995", "0.005"]',
                "lastTradePrice": 0.99,
                "closed": True,
                "volumeNum": 480000.25,
                "volume": "480000.251234",
                "volume24hr": 0,
                "createdAt": "2024-06-01T09:00:00.123456Z",
                "startDate": "2024-06-01T10:00:00Z",
                "endDate": "2024-06-07T00:00:00Z",
                "gameStartTime": "2024-06-07 00:30:00+00",
                "image": "https://img.example/game1.png",
            },
            {
                "id": "600002",
                "slug": "",
                "question": "Will Game 1 go to overtime?",
                "outcomePrices": '["0.12", "0.88"]',
                "closed": False,
                "volumeNum": 3000,
                "volume24hr": 150.5,
                "createdAt": "2024-06-02T09:00:00Z",
                "endDate": "2024-06-07T00:00:00Z",
            },
        ],
        **fields,
    }


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_markets", *map(str, args), stdout=out, stderr=err)
    return out.getvalue()


def tag_slugs(market):
    return sorted(market.tags.values_list("slug", flat=True))


def test_it_round_trips_the_own_json_format(tmp_path):
    payload = [own_market(1), own_market(2, tags=[], status="resolved", category="pop culture", news_at="2024-05-02")]
    run(write_json(tmp_path / "markets.json", payload))

    one = Market.objects.get(market_id="market-1")
    assert one.title == "Will thing 1 happen?"
    assert one.description == "Resolves Yes if it happens."
    assert one.category == "Sports"
    assert tag_slugs(one) == ["nba", "playoffs"]
    assert (one.probability, one.volume_24h, one.volume_total, one.participant_count) == (0.25, 1200.5, 90000.0, 321)
    assert one.image_url == "https://img.example/1.png"
    assert one.status == "open"
    assert one.created_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert one.resolution_date == datetime(2024, 5, 31, 22, tzinfo=UTC)  # +02:00 converted
    assert one.event_start_at == datetime(2024, 5, 20, 19, 30, tzinfo=UTC)  # no offset means UTC
    assert one.news_at is None
    assert one.editorial_description == "Editors' pick."
    two = Market.objects.get(market_id="market-2")
    assert (two.status, two.category, tag_slugs(two)) == ("resolved", "Culture", [])
    assert two.news_at == datetime(2024, 5, 2, tzinfo=UTC)


def test_it_accepts_a_markets_wrapper_object(tmp_path):
    output = run(write_json(tmp_path / "catalog.json", {"markets": [own_market(1), own_market(2)]}))

    assert "created 2," in output
    assert set(Market.objects.values_list("market_id", flat=True)) == {"market-1", "market-2"}


def test_it_round_trips_the_own_csv_format(tmp_path):
    markets = [own_market(1), own_market(2, tags=["Politics"], news_at="2024-05-03T08:00:00-04:00")]
    path = write_csv(tmp_path / "markets.csv", OWN_FIELDS, [own_csv_row(m) for m in markets])

    output = run(path)

    assert "market CSV" in output and "created 2," in output
    one = Market.objects.get(market_id="market-1")
    assert tag_slugs(one) == ["nba", "playoffs"]
    assert one.resolution_date == datetime(2024, 5, 31, 22, tzinfo=UTC)
    assert one.news_at is None  # an empty cell clears an optional date
    two = Market.objects.get(market_id="market-2")
    assert tag_slugs(two) == ["politics"]
    assert two.news_at == datetime(2024, 5, 3, 12, tzinfo=UTC)
    assert (two.volume_24h, two.participant_count) == (1200.5, 321)


def test_it_maps_a_gamma_csv_row(tmp_path):
    rows = [
        gamma_csv_row(),
        gamma_csv_row(
            market_id="512346", market_slug="will-x-win", question="Will X win?", outcome_prices='["1", "0"]',
            winning_outcome="Yes", closed="True", active="True", event_tag_labels="All|Politics|Trump",
            event_tag_slugs="all|politics|trump",
        ),
        gamma_csv_row(
            market_id="512347", market_slug="nba-legacy", question="Legacy NBA market?", closed="True",
            outcome_prices='["0.4", "0.6"]', market_category="Sports-", event_tag_labels="All", event_tag_slugs="all",
        ),
        gamma_csv_row(market_id="512348", market_slug="", question="No slug, no prices?", outcome_prices="",
                      last_trade_price="1.02", event_tag_labels="Horse Stuff", event_tag_slugs="horse-stuff"),
    ]

    output = run(write_csv(tmp_path / "markets.csv.gz", GAMMA_CSV_FIELDS, rows, gz=True))

    assert "Polymarket Gamma markets CSV" in output and "created 4," in output
    fed = Market.objects.get(market_id="will-the-fed-cut-rates-in-march")
    assert fed.title == "Will the Fed cut rates in March?"
    assert fed.probability == 0.83  # first outcome's price
    assert tag_slugs(fed) == ["economy", "fed-rates"]  # "All" dropped
    assert fed.category == "Business"  # derived from the tags
    assert (fed.status, fed.volume_total, fed.volume_24h, fed.participant_count) == ("open", 152000.5, 2100.0, 0)
    assert fed.created_at == datetime(2024, 1, 10, 12, 0, 0, 500000, tzinfo=UTC)
    assert fed.resolution_date == datetime(2024, 3, 20, tzinfo=UTC)
    assert fed.image_url == ""
    won = Market.objects.get(market_id="will-x-win")
    assert (won.status, won.probability, won.category) == ("resolved", 1.0, "Politics")
    legacy = Market.objects.get(market_id="nba-legacy")
    assert (legacy.status, legacy.category, tag_slugs(legacy)) == ("closed", "Sports", [])
    fallback = Market.objects.get(market_id="pm-512348")
    assert (fallback.probability, fallback.category) == (1.0, "Other")  # last trade price, clamped


def test_it_reads_raw_gamma_events_with_nested_markets(tmp_path):
    other = gamma_event(id="70002", ticker="e2", tags=[{"label": "Crypto", "slug": "crypto"}], markets=[
        {**gamma_event()["markets"][1], "id": "600003", "slug": "btc-100k", "question": "BTC 100k?"},
    ])
    output = run(write_json(tmp_path / "events.json", [gamma_event(), other, gamma_event(id="70003", markets=[])]))

    assert "Polymarket Gamma events JSON, 3 rows" in output and "created 3," in output
    game = Market.objects.get(market_id="celtics-vs-mavericks-game-1")
    assert (game.status, game.probability, game.category) == ("resolved", 0.995, "Sports")
    assert tag_slugs(game) == ["nba", "sports"]
    assert game.volume_total == 480000.25
    assert game.image_url == "https://img.example/game1.png"
    assert game.event_start_at == datetime(2024, 6, 7, 0, 30, tzinfo=UTC)  # the market's own game start
    assert game.created_at == datetime(2024, 6, 1, 9, 0, 0, 123456, tzinfo=UTC)
    overtime = Market.objects.get(market_id="pm-600002")
    assert (overtime.status, overtime.probability, overtime.volume_24h) == ("open", 0.12, 150.5)
    assert overtime.image_url == "https://img.example/event.png"  # falls back to the event's image
    assert overtime.event_start_at == datetime(2024, 6, 6, 0, 30, tzinfo=UTC)  # the event's start time
    assert tag_slugs(Market.objects.get(market_id="btc-100k")) == ["crypto"]
    assert Market.objects.get(market_id="btc-100k").category == "Crypto"


def test_it_reads_one_raw_event_object_and_jsonl_lines(tmp_path):
    run(write_json(tmp_path / "event.json", gamma_event()))
    lines = "\n".join(json.dumps(gamma_event(id=str(n), ticker=f"t{n}", markets=[
        {**gamma_event()["markets"][1], "id": str(n), "slug": f"line-market-{n}"}
    ])) for n in range(3))
    (tmp_path / "events.jsonl").write_text(lines + "\n{broken\n")

    output = run(tmp_path / "events.jsonl")

    assert Market.objects.count() == 5
    assert "rejected line 4: invalid JSON" in output


def test_a_second_import_changes_nothing(tmp_path):
    json_path = write_json(tmp_path / "markets.json", [own_market(n) for n in range(5)])
    gamma_path = write_json(tmp_path / "events.json", [gamma_event()])
    run(json_path, gamma_path)
    before = dict(Market.objects.values_list("market_id", "updated_at"))
    snapshots = MarketSnapshot.objects.count()
    links = set(Market.tags.through.objects.values_list("id", "market_id", "tag_id"))

    output = run(json_path, gamma_path)

    assert "total: created 0, updated 0, unchanged 7, rejected 0; wrote 0 snapshots" in output
    assert MarketSnapshot.objects.count() == snapshots == 7
    assert dict(Market.objects.values_list("market_id", "updated_at")) == before
    assert set(Market.tags.through.objects.values_list("id", "market_id", "tag_id")) == links


def test_a_changed_probability_updates_one_market_and_writes_one_snapshot(tmp_path):
    path = tmp_path / "markets.json"
    run(write_json(path, [own_market(n) for n in range(3)]))
    untouched = Market.objects.get(market_id="market-0").updated_at

    output = run(write_json(path, [own_market(0), own_market(1, probability=0.6), own_market(2)]))

    assert "created 0, updated 1, unchanged 2, rejected 0; wrote 1 snapshots" in output
    assert Market.objects.get(market_id="market-1").probability == 0.6
    latest = MarketSnapshot.objects.filter(market__market_id="market-1").latest()
    assert (latest.probability, MarketSnapshot.objects.count()) == (0.6, 4)
    assert Market.objects.get(market_id="market-0").updated_at == untouched


def test_a_text_or_tag_change_updates_without_a_snapshot(tmp_path):
    TagFactory(slug="nba", label="NBA (edited)")
    path = tmp_path / "markets.json"
    run(write_json(path, [own_market(1)]))

    output = run(write_json(path, [own_market(1, title="Renamed?", tags=["NBA", "Finals"])]))

    assert "updated 1," in output and "wrote 0 snapshots" in output
    market = Market.objects.get(market_id="market-1")
    assert (market.title, tag_slugs(market)) == ("Renamed?", ["finals", "nba"])
    assert Tag.objects.get(slug="nba").label == "NBA (edited)"  # an editor's label is kept
    assert not Market.tags.through.objects.filter(tag__slug="playoffs").exists()


def test_fields_the_source_does_not_carry_are_left_alone(tmp_path):
    MarketFactory(
        market_id="will-the-fed-cut-rates-in-march", participant_count=777, editorial_description="Our take.",
        image_url="https://img.example/editor.png", probability=0.83, volume_24h=2100.0, volume_total=152000.5,
    )

    run(write_csv(tmp_path / "gamma.csv", GAMMA_CSV_FIELDS, [gamma_csv_row()]))

    market = Market.objects.get(market_id="will-the-fed-cut-rates-in-march")
    assert (market.participant_count, market.editorial_description) == (777, "Our take.")
    assert market.image_url == "https://img.example/editor.png"
    assert market.title == "Will the Fed cut rates in March?"
    assert not MarketSnapshot.objects.exists()  # no state field changed


def test_rejected_rows_report_line_and_reason_while_valid_rows_are_stored(tmp_path):
    rows = [
        own_csv_row(own_market(1, description="two\nlines")),  # lines 2-3
        own_csv_row(own_market(2, title="")),  # line 4
        own_csv_row(own_market(3, probability="high")),  # line 5
        own_csv_row(own_market(4, created_at="yesterday")),  # line 6
        own_csv_row(own_market(1)),  # line 7
        own_csv_row(own_market(5, probability="1.5")),  # line 8
        own_csv_row(own_market(6)),  # line 9
    ]
    path = write_csv(tmp_path / "markets.csv", OWN_FIELDS, rows)
    path.write_text(path.read_text() + "market-7,Short row\n")  # line 10
    rejects = tmp_path / "rejects.csv"

    output = run(path, "--rejects-file", rejects)

    assert "created 2, updated 0, unchanged 0, rejected 6" in output
    assert "rejected line 4 [market-2]: title is missing" in output
    assert "rejected line 5 [market-3]: probability 'high' is not a number" in output
    assert "rejected line 6 [market-4]: created_at 'yesterday' is not an ISO-8601 date" in output
    assert "rejected line 7 [market-1]: duplicate market_id (first at line 2)" in output
    assert "rejected line 8 [market-5]: probability '1.5' is outside 0..1" in output
    assert "rejected line 10: expected 16 columns, got 2" in output
    assert set(Market.objects.values_list("market_id", flat=True)) == {"market-1", "market-6"}
    with rejects.open() as f:
        written = list(csv.DictReader(f))
    assert [(r["where"], r["market_id"]) for r in written] == [
        ("line 4", "market-2"), ("line 5", "market-3"), ("line 6", "market-4"), ("line 7", "market-1"),
        ("line 8", "market-5"), ("line 10", ""),
    ]


def test_it_reports_json_index_of_rejected_items(tmp_path):
    output = run(write_json(tmp_path / "m.json", {"markets": [own_market(1), own_market(2, status="paused")]}))

    assert "rejected markets[1] [market-2]: status 'paused' is not one of closed, open, resolved" in output


def test_it_prints_at_most_50_rejects_and_the_total(tmp_path):
    output = run(write_json(tmp_path / "m.json", [own_market(n, title="") for n in range(60)] + [own_market(60)]))

    assert output.count("title is missing") == 50
    assert "10 more rejected rows (60 in total" in output


def test_it_reads_gzip_input_by_extension_and_by_content(tmp_path):
    run(write_json(tmp_path / "markets.json.gz", [own_market(1)], gz=True))
    run(write_csv(tmp_path / "export.dat", OWN_FIELDS, [own_csv_row(own_market(2))], gz=True))

    assert set(Market.objects.values_list("market_id", flat=True)) == {"market-1", "market-2"}


def test_an_unreadable_file_fails_the_command(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "events.csv").write_text("event_id,slug\n1,x\n")

    with pytest.raises(CommandError, match="invalid JSON"):
        run(tmp_path / "bad.json")
    with pytest.raises(CommandError, match="no rows imported: the file looks like a CSV file with the col"):
        run(tmp_path / "events.csv")
    cut = gzip.compress(json.dumps([own_market(n) for n in range(50)]).encode())[:-40]
    (tmp_path / "cut.json.gz").write_bytes(cut)
    with pytest.raises(CommandError, match="cut.json.gz"):
        run(tmp_path / "cut.json.gz")
    assert not Market.objects.exists()


def test_dry_run_writes_nothing(tmp_path):
    output = run(write_json(tmp_path / "m.json", [own_market(1), own_market(2)]), "--dry-run")

    assert "created 2," in output and "would write 2 snapshots" in output
    assert not Market.objects.exists() and not Tag.objects.exists()


def test_limit_takes_the_first_rows(tmp_path):
    run(write_json(tmp_path / "m.json", [own_market(n) for n in range(5)]), "--limit", "2")

    assert set(Market.objects.values_list("market_id", flat=True)) == {"market-0", "market-1"}


def test_fresh_dates_shift_to_now_and_reopen_future_markets(tmp_path):
    markets = [
        own_market(1, created_at="2021-01-01T00:00:00Z", resolution_date="2021-01-10T00:00:00Z", status="resolved"),
        own_market(2, created_at="2021-01-05T00:00:00Z", resolution_date="2021-01-01T00:00:00Z", status="resolved"),
    ]
    before = timezone.now()

    run(write_json(tmp_path / "m.json", markets), "--fresh-dates")

    one, two = Market.objects.get(market_id="market-1"), Market.objects.get(market_id="market-2")
    assert before - timedelta(hours=1) <= two.created_at <= timezone.now()
    assert two.created_at - one.created_at == timedelta(days=4)
    assert (one.status, two.status) == ("open", "resolved")  # market 1 resolves 5 days after "now"
    assert one.resolution_date - two.created_at == timedelta(days=5)


def test_the_catalog_version_moves_only_when_something_was_written(tmp_path):
    path = write_json(tmp_path / "m.json", [own_market(1)])
    run(path)
    version = cache.get("catalog:version")

    run(path)

    assert version is not None
    assert cache.get("catalog:version") == version


def test_a_cache_that_is_down_does_not_fail_the_import(tmp_path, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(feedproject.cache.cache, "set", broken)

    run(write_json(tmp_path / "m.json", [own_market(1)]))

    assert Market.objects.filter(market_id="market-1").exists()
    assert "cache set catalog:version failed" in caplog.text


def _rows(count, *, probability=0.3):
    return [
        MarketRow(
            where=f"[{n}]", market_id=f"q-{n}",
            fields={"title": f"Q {n}", "probability": probability, "created_at": datetime(2024, 1, 1, tzinfo=UTC)},
            tags=((f"tag-{n}", f"Tag {n}"), ("shared", "Shared")),
        )
        for n in range(count)
    ]


# One chunk at most: savepoint + release, markets and their links read, tags read / inserted /
# re-read, markets upserted, stale links deleted, links inserted, snapshots inserted. SQLite
# splits an INSERT above 999 parameters (58 markets), so the sizes below stay under that.
CHUNK_MAX_QUERIES = 11


@pytest.mark.parametrize("count", [5, 50])
def test_queries_per_chunk_do_not_grow_with_rows(count, django_assert_max_num_queries):
    with django_assert_max_num_queries(CHUNK_MAX_QUERIES):
        result = markets_import(rows=_rows(count), chunk_size=100, now=timezone.now())
    assert (result.created, result.snapshots) == (count, count)

    with django_assert_max_num_queries(CHUNK_MAX_QUERIES):
        result = markets_import(rows=_rows(count, probability=0.7), chunk_size=100, now=timezone.now())
    assert (result.updated, result.snapshots) == (count, count)


def test_queries_grow_with_chunks_not_rows(django_assert_max_num_queries):
    with django_assert_max_num_queries(3 * CHUNK_MAX_QUERIES):
        result = markets_import(rows=_rows(60), chunk_size=20, now=timezone.now())
    assert result.created == 60


def test_the_query_count_is_the_same_for_small_and_large_chunks():
    def queries(count):
        with CaptureQueriesContext(connection) as ctx:
            markets_import(rows=_rows(count), chunk_size=100, now=timezone.now())
        Market.objects.all().delete()
        return len(ctx.captured_queries)

    assert queries(3) == queries(40)


def test_an_own_market_id_must_be_a_slug(tmp_path):
    output = run(write_json(tmp_path / "m.json", [own_market(1, market_id="not a slug"), own_market(2)]))

    assert "rejected [0] [not a slug]: market_id 'not a slug' is not a slug of at most 200 characters" in output
    assert list(Market.objects.values_list("market_id", flat=True)) == ["market-2"]
