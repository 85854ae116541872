"""The demo catalog: a seeded generator of believable markets with 24 h of history, and its idempotent upsert.

`catalog_generate` is pure (seed, size and an anchor time in; a `DemoCatalog` out) and
`demo_catalog_write` stores one through the importer's `markets_import`. How and why: docs/demo-data.md.
"""
import base64
import math
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from django.db import transaction
from django.utils.text import slugify

from markets.importers import MARKET_FIELDS, EventRow, MarketRow, markets_import
from markets.models import SNAPSHOT_FIELDS, EditorialBoost, Market
from markets.services import catalog_version_bump, market_snapshots_store

SNAPSHOT_STEP = timedelta(minutes=15)
SNAPSHOT_POINTS = 97  # every 15 min over 24 h, both ends included
BOOST_NOTE_PREFIX = "Demo seed:"
IMAGE_URL_MAX = Market._meta.get_field("image_url").max_length

# Category -> colour of its placeholder image, share of the catalog, volume multiplier, tags (slug -> label).
CATEGORIES = {
    "Sports": ("#15803d", 24, 1.6, {
        "nba": "NBA", "nfl": "NFL", "soccer": "Soccer", "premier-league": "Premier League", "la-liga": "La Liga",
        "bundesliga": "Bundesliga", "champions-league": "Champions League", "brasileirao": "Brasileirão",
        "israeli-premier-league": "Israeli Premier League", "tennis": "Tennis", "f1": "F1",
        "olympics": "Olympics", "cricket": "Cricket",
    }),
    "Politics": ("#b91c1c", 15, 1.8, {
        "us-elections": "US Elections", "congress": "Congress", "israel": "Israel", "uk": "UK", "eu": "EU",
        "germany": "Germany", "brazil": "Brazil", "france": "France",
    }),
    "Crypto": ("#d97706", 15, 1.5, {
        "bitcoin": "Bitcoin", "ethereum": "Ethereum", "solana": "Solana", "etfs": "ETFs",
        "stablecoins": "Stablecoins", "altcoins": "Altcoins",
    }),
    "Business": ("#0369a1", 11, 1.0, {
        "fed": "Fed", "ecb": "ECB", "inflation": "Inflation", "jobs": "Jobs", "stocks": "Stocks",
        "recession": "Recession", "commodities": "Commodities",
    }),
    "Culture": ("#be185d", 10, 0.7, {
        "movies": "Movies", "music": "Music", "awards": "Awards", "tv": "TV", "gaming": "Gaming",
    }),
    "Science & Tech": ("#6d28d9", 10, 0.8, {
        "ai": "AI", "space": "Space", "apple": "Apple", "biotech": "Biotech", "chips": "Chips",
    }),
    "World": ("#334155", 9, 1.0, {
        "ukraine": "Ukraine", "middle-east": "Middle East", "china": "China", "diplomacy": "Diplomacy",
        "trade": "Trade", "world-elections": "World Elections", "latin-america": "Latin America",
    }),
    "Weather": ("#0e7490", 6, 0.4, {
        "temperature": "Temperature", "snow": "Snow", "hurricanes": "Hurricanes", "climate": "Climate",
    }),
}
CATEGORY_TAGS = {name: tuple(tags) for name, (_, _, _, tags) in CATEGORIES.items()}
TAG_LABELS = {slug: label for _, _, _, tags in CATEGORIES.values() for slug, label in tags.items()}


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    probability: float
    volume_24h: float
    volume_total: float
    participant_count: int


@dataclass(frozen=True)
class MarketSpec:
    """One generated market: its row, its tags, its snapshot history and what the activity simulation needs."""

    market_id: str
    title: str
    description: str
    category: str
    tags: tuple
    probability: float
    volume_24h: float
    volume_total: float
    participant_count: int
    image_url: str
    status: str
    created_at: datetime
    resolution_date: datetime | None
    event_start_at: datetime | None
    news_at: datetime | None
    editorial_description: str = ""
    country: str = ""  # where the market is local news ("" for everywhere)
    ended_at: datetime | None = None  # when trading stopped (closed and resolved markets)
    surge_at: datetime | None = None  # start of a burst of attention (sharp move or volume spike)
    surge: float = 0.0  # its strength, 0-1
    snapshots: tuple = ()
    event: tuple = ()  # (key, title): the question it is one outcome of

    def values(self):
        return {name: getattr(self, name) for name in MARKET_FIELDS}

    def state_at(self, at):
        """(probability, volume_24h, volume_total, participant_count) at `at`, from the snapshots."""
        current = self.snapshots[0] if self.snapshots else self
        for snap in self.snapshots:
            if snap.taken_at > at:
                break
            current = snap
        return current.probability, current.volume_24h, current.volume_total, current.participant_count


@dataclass(frozen=True)
class BoostSpec:
    market_id: str
    value: float
    starts_at: datetime
    ends_at: datetime
    surfaces: list
    pinned_slot: int | None
    note: str


@dataclass(frozen=True)
class DemoCatalog:
    seed: int
    anchor: datetime  # the "now" the catalog was generated for; kept on re-runs (see demo_catalog_build)
    markets: tuple
    boosts: tuple
    tags: dict = field(default_factory=lambda: dict(TAG_LABELS))


# --- Name lists for the title templates ---------------------------------------------------------

NBA_TEAMS = ("Lakers", "Celtics", "Warriors", "Knicks", "Bucks", "Nuggets", "Heat", "Suns", "76ers", "Mavericks",
             "Thunder", "Cavaliers", "Timberwolves", "Clippers")
NFL_TEAMS = ("Chiefs", "Eagles", "49ers", "Cowboys", "Bills", "Ravens", "Lions", "Packers", "Dolphins", "Bengals",
             "Steelers", "Jets")
SOCCER_LEAGUES = {
    "premier-league": ("GB", ("Arsenal", "Liverpool", "Manchester City", "Chelsea", "Tottenham",
                               "Manchester United", "Newcastle", "Aston Villa")),
    "la-liga": ("ES", ("Real Madrid", "Barcelona", "Atlético Madrid", "Sevilla", "Real Sociedad", "Villarreal")),
    "bundesliga": ("DE", ("Bayern Munich", "Borussia Dortmund", "Bayer Leverkusen", "RB Leipzig",
                           "Eintracht Frankfurt", "VfB Stuttgart")),
    "brasileirao": ("BR", ("Flamengo", "Palmeiras", "Corinthians", "São Paulo", "Fluminense", "Grêmio",
                            "Atlético Mineiro")),
    "israeli-premier-league": ("IL", ("Maccabi Tel Aviv", "Maccabi Haifa", "Hapoel Be'er Sheva",
                                       "Beitar Jerusalem", "Hapoel Tel Aviv")),
}
TENNIS_PLAYERS = ("Sinner", "Alcaraz", "Djokovic", "Zverev", "Medvedev", "Fritz", "Sabalenka", "Swiatek", "Gauff",
                  "Rybakina", "Pegula")
TENNIS_EVENTS = ("Australian Open", "Roland Garros", "Wimbledon", "US Open", "ATP Finals", "Indian Wells")
F1_DRIVERS = ("Verstappen", "Norris", "Leclerc", "Piastri", "Hamilton", "Russell", "Sainz", "Alonso")
GRANDS_PRIX = ("Bahrain", "Monaco", "British", "Italian", "Singapore", "Japanese", "Las Vegas", "Abu Dhabi",
               "Brazilian", "Dutch")
OLYMPIC_NATIONS = ("Norway", "the USA", "Germany", "Canada", "the Netherlands", "Sweden", "Italy")
CRICKET_TEAMS = ("India", "Australia", "England", "Pakistan", "South Africa", "New Zealand")
US_STATES = ("Pennsylvania", "Georgia", "Arizona", "Michigan", "Wisconsin", "Nevada", "North Carolina", "Ohio",
             "Texas", "Maine")
US_BILLS = ("a government funding bill", "a crypto market-structure bill", "a farm bill",
            "a debt-ceiling increase", "a stock-trading ban for members", "a federal privacy law")
KNESSET_PARTIES = ("Likud", "Yesh Atid", "National Unity", "Yisrael Beiteinu", "Shas")
UK_PARTIES = ("Labour", "the Conservatives", "Reform UK", "the Liberal Democrats", "the Greens")
DE_PARTIES = ("CDU/CSU", "SPD", "AfD", "the Greens", "the FDP")
EU_VOTES = ("the 2040 climate target", "the Mercosur trade deal", "the migration pact reform",
            "the next long-term budget")
COINS = {  # name -> (symbol, tag, notional price used to set believable odds)
    "Bitcoin": ("BTC", "bitcoin", 100_000),
    "Ethereum": ("ETH", "ethereum", 4_000),
    "Solana": ("SOL", "solana", 200),
}
ETF_COINS = ("Solana", "XRP", "Litecoin", "Dogecoin", "Cardano", "Avalanche")
COMPANIES = ("Nvidia", "Apple", "Microsoft", "Alphabet", "Amazon")
RECESSION_COUNTRIES = (("the US", "US"), ("Germany", "DE"), ("the UK", "GB"), ("Japan", ""), ("Brazil", "BR"))
TITLE_WORDS = (("Midnight", "Silent", "Crimson", "Last", "Hidden", "Electric", "Broken", "Golden", "Infinite",
                "Northern"),
               ("Harbor", "Orbit", "Kingdom", "Signal", "Garden", "Frontier", "Echo", "Empire", "Tide", "Protocol"))
ARTIST_NAMES = (("Nova", "Jules", "Mika", "Luna", "Theo", "Ari", "Zoe", "Kai", "Remy", "Sasha"),
                ("Reyes", "Carter", "Stone", "Vale", "Marsh", "Okafor", "Lindqvist", "Moreau", "Silva", "Ben-David"))
AI_LABS = ("OpenAI", "Google DeepMind", "Anthropic", "Meta", "Mistral", "xAI", "DeepSeek")
SPACE_MISSIONS = (("NASA", "crewed lunar flyby"), ("ESA", "comet interceptor"), ("ISRO", "first crewed flight"),
                  ("JAXA", "Mars moon sample return"), ("SpaceX", "first orbital refuelling test"))
APPLE_PRODUCTS = ("a foldable iPhone", "smart glasses", "a home robot", "a touchscreen Mac", "a new Apple TV")
DRUG_PARTS = (("Lum", "Vex", "Cardi", "Neuro", "Oxa", "Tri"), ("zumab", "tinib", "vimab", "sertib", "ciclib"))
DRUG_USES = ("Alzheimer's", "obesity", "migraine", "sickle cell disease", "long COVID")
CHIPMAKERS = ("TSMC", "Samsung", "Intel")
ELECTION_COUNTRIES = ("Canada", "Japan", "Australia", "India", "Mexico", "South Africa", "Poland")
FTA_PARTNERS = ("India", "Mercosur", "Australia", "Indonesia")
HOT_CITIES = (("New York", "US", "F", 88), ("Phoenix", "US", "F", 108), ("Tel Aviv", "IL", "C", 33),
              ("London", "GB", "C", 28), ("Berlin", "DE", "C", 30), ("São Paulo", "BR", "C", 32),
              ("Paris", "FR", "C", 31), ("Mumbai", "IN", "C", 36))
SNOW_CITIES = (("New York", "US"), ("London", "GB"), ("Berlin", "DE"), ("Chicago", "US"), ("Jerusalem", "IL"))


@dataclass
class _Draft:
    """What a title template decides; `key` must not depend on the anchor (it names the market)."""

    key: str
    title: str
    description: str
    tags: tuple
    badge: str
    resolution_date: datetime
    event_start_at: datetime | None = None
    probability: float | None = None
    country: str = ""
    event: tuple = ()  # (key, title) of the question this market is one outcome of; () for a yes/no question


def _outcome_of(key, title):
    """The event of a multi-outcome question: one market per team, player or party."""
    return (slugify(key), title)


class _Dates:
    """Dates relative to the anchor; templates draw the offsets, so their random draws never depend on it."""

    def __init__(self, anchor):
        self.anchor = anchor

    def day(self, days):
        """End of the UTC day `days` ahead: the resolution of a "by <date>" market."""
        return (self.anchor + timedelta(days=days)).replace(hour=23, minute=59, second=0, microsecond=0)

    def kickoff(self, r, lo_days=0.2, hi_days=6.0):
        """A game's start: mostly 1-3 days ahead, on a five-minute mark."""
        u = r.random()
        days = r.uniform(1, 3) if u < 0.6 else r.uniform(lo_days, 1) if u < 0.85 else r.uniform(3, hi_days)
        start = self.anchor + timedelta(minutes=5 * round(days * 288))
        return start

    def month(self, months):
        return f"{self.anchor + timedelta(days=30 * months):%B}"


def _label(dt):
    return f"{dt:%b} {dt.day}"


def _initials(*names):
    return "".join(n.removeprefix("the ")[:1] for n in names).upper()


def _pair(r, names):
    a, b = r.sample(names, 2)
    return a, b


def _resolves(what, when):
    return f"This market resolves to Yes if {' '.join(filter(None, (what, when)))}. Otherwise it resolves to No."


# --- Title templates, per category ---------------------------------------------------------------
# Each takes (rng, dates) and returns a _Draft. They may use any name list; they never copy real markets.

def _nba_game(r, d):
    a, b = _pair(r, NBA_TEAMS)
    start = d.kickoff(r)
    return _Draft(f"nba-{a}-vs-{b}", f"Will the {a} beat the {b} on {_label(start)}?",
                  _resolves(f"the {a} win their game against the {b}",
                            f"scheduled for {_label(start)} (overtime counts)"),
                  ("nba",), _initials(a, b), start + timedelta(hours=3), start, country="US")


def _nba_title(r, d):
    team = r.choice(NBA_TEAMS)
    return _Draft(f"nba-finals-{team}", f"Will the {team} win the NBA Finals?",
                  _resolves(f"the {team} win the next NBA Finals", "when the series ends"),
                  ("nba",), _initials(team), d.day(r.randint(120, 200)), probability=r.uniform(0.02, 0.3),
                  country="US", event=_outcome_of("nba-finals", "Who will win the NBA Finals?"))


def _nfl_game(r, d):
    a, b = _pair(r, NFL_TEAMS)
    start = d.kickoff(r)
    return _Draft(f"nfl-{a}-vs-{b}", f"Will the {a} beat the {b} on {_label(start)}?",
                  _resolves(f"the {a} win their game against the {b}", f"on {_label(start)} (a tie resolves No)"),
                  ("nfl",), _initials(a, b), start + timedelta(hours=4), start, country="US")


def _nfl_title(r, d):
    team = r.choice(NFL_TEAMS)
    return _Draft(f"super-bowl-{team}", f"Will the {team} win the Super Bowl?",
                  _resolves(f"the {team} win the next Super Bowl", "when it is played"),
                  ("nfl",), _initials(team), d.day(r.randint(60, 150)), probability=r.uniform(0.02, 0.25),
                  country="US", event=_outcome_of("super-bowl", "Who will win the Super Bowl?"))


def _soccer_game(r, d):
    league = r.choice(tuple(SOCCER_LEAGUES))
    country, clubs = SOCCER_LEAGUES[league]
    a, b = _pair(r, clubs)
    start = d.kickoff(r)
    return _Draft(f"{league}-{a}-vs-{b}", f"Will {a} beat {b} on {_label(start)}?",
                  _resolves(f"{a} win their {TAG_LABELS[league]} match against {b}",
                            f"on {_label(start)} in regular time"),
                  ("soccer", league), _initials(a, b), start + timedelta(hours=2), start,
                  probability=r.uniform(0.2, 0.65), country=country)


def _champions_league(r, d):
    a, b = r.sample([c for league in ("premier-league", "la-liga", "bundesliga") for c in SOCCER_LEAGUES[league][1]], 2)
    start = d.kickoff(r)
    return _Draft(f"ucl-{a}-vs-{b}", f"Will {a} beat {b} in the Champions League on {_label(start)}?",
                  _resolves(f"{a} beat {b}", f"in regular time on {_label(start)}"),
                  ("soccer", "champions-league"), _initials(a, b), start + timedelta(hours=2), start,
                  probability=r.uniform(0.2, 0.65))


def _soccer_title(r, d):
    league = r.choice(tuple(SOCCER_LEAGUES))
    country, clubs = SOCCER_LEAGUES[league]
    club = r.choice(clubs)
    return _Draft(f"{league}-title-{club}", f"Will {club} win the {TAG_LABELS[league]} this season?",
                  _resolves(f"{club} finish first in the {TAG_LABELS[league]}", "this season"),
                  ("soccer", league), _initials(club), d.day(r.randint(90, 220)), probability=r.uniform(0.03, 0.5),
                  country=country,
                  event=_outcome_of(f"{league}-title", f"Who will win the {TAG_LABELS[league]} this season?"))


def _tennis(r, d):
    player, event = r.choice(TENNIS_PLAYERS), r.choice(TENNIS_EVENTS)
    return _Draft(f"tennis-{player}-{event}", f"Will {player} win the {event}?",
                  _resolves(f"{player} wins the next {event}", "when the final is played"),
                  ("tennis",), _initials(player), d.day(r.randint(20, 200)), probability=r.uniform(0.04, 0.4),
                  event=_outcome_of(f"tennis-{event}", f"Who will win the {event}?"))


def _tennis_match(r, d):
    a, b = _pair(r, TENNIS_PLAYERS[:6]) if r.random() < 0.5 else _pair(r, TENNIS_PLAYERS[6:])
    start = d.kickoff(r)
    return _Draft(f"tennis-{a}-vs-{b}", f"Will {a} beat {b} on {_label(start)}?",
                  _resolves(f"{a} wins the match against {b}", f"scheduled for {_label(start)}"),
                  ("tennis",), _initials(a, b), start + timedelta(hours=4), start)


def _f1(r, d):
    driver, gp = r.choice(F1_DRIVERS), r.choice(GRANDS_PRIX)
    start = d.kickoff(r, hi_days=9)
    podium = r.random() < 0.4
    what = "finish on the podium at" if podium else "win"
    return _Draft(f"f1-{driver}-{'podium' if podium else 'win'}-{gp}", f"Will {driver} {what} the {gp} Grand Prix?",
                  _resolves(f"{driver} {'finishes in the top three of' if podium else 'wins'} the {gp} Grand Prix",
                            "on race day"),
                  ("f1",), _initials(driver), start + timedelta(hours=3), start,
                  probability=r.uniform(0.15, 0.7) if podium else r.uniform(0.05, 0.45))


def _olympics(r, d):
    nation, golds = r.choice(OLYMPIC_NATIONS), r.choice((5, 8, 10, 12, 15))
    return _Draft(f"olympics-{nation}-{golds}-golds",
                  f"Will {nation} win {golds} or more gold medals at the next Winter Olympics?",
                  _resolves(f"{nation} wins at least {golds} gold medals", "at the next Winter Olympics"),
                  ("olympics",), _initials(nation), d.day(r.randint(60, 300)))


def _cricket(r, d):
    a, b = _pair(r, CRICKET_TEAMS)
    fmt = r.choice(("Test", "ODI", "T20I"))
    start = d.kickoff(r)
    country = "IN" if "India" in (a, b) else "GB" if "England" in (a, b) else ""
    return _Draft(f"cricket-{fmt}-{a}-vs-{b}", f"Will {a} beat {b} in the {fmt} starting {_label(start)}?",
                  _resolves(f"{a} win the {fmt} against {b}", f"that starts on {_label(start)} (a draw resolves No)"),
                  ("cricket",), _initials(a, b), start + timedelta(days=5 if fmt == "Test" else 1), start,
                  country=country)


def _senate_race(r, d):
    party, state = r.choice(("Democrats", "Republicans")), r.choice(US_STATES)
    return _Draft(f"senate-{state}-{party}", f"Will the {party} win the {state} Senate race?",
                  _resolves(f"the {party[:-1]} candidate is declared the winner in {state}", "at the next election"),
                  ("us-elections",), _initials(state), d.day(r.randint(150, 340)), country="US",
                  event=_outcome_of(f"senate-{state}", f"Which party wins the {state} Senate race?"))


def _house_control(r, d):
    party = r.choice(("Democrats", "Republicans"))
    return _Draft(f"house-control-{party}", f"Will the {party} control the House after the midterms?",
                  _resolves(f"the {party} hold a majority of House seats", "after the next midterm elections"),
                  ("us-elections", "congress"), "H", d.day(r.randint(150, 340)), country="US")


def _congress_bill(r, d):
    bill, days = r.choice(US_BILLS), r.randint(14, 120)
    return _Draft(f"congress-{bill}", f"Will Congress pass {bill} by {_label(d.day(days))}?",
                  _resolves(f"both chambers pass {bill}", f"by {_label(d.day(days))}"),
                  ("congress",), "C", d.day(days), probability=r.uniform(0.1, 0.6), country="US")


def _shutdown(r, d):
    days = r.randint(10, 90)
    return _Draft("us-government-shutdown", f"Will there be a US government shutdown before {_label(d.day(days))}?",
                  _resolves("a lapse in federal appropriations begins", f"before {_label(d.day(days))}"),
                  ("congress",), "GOV", d.day(days), probability=r.uniform(0.1, 0.5), country="US")


def _israel(r, d):
    days, pick = r.randint(20, 200), r.random()
    if pick < 0.35:
        return _Draft("knesset-budget", f"Will the Knesset pass the state budget by {_label(d.day(days))}?",
                      _resolves("the Knesset passes the state budget in its third reading",
                                f"by {_label(d.day(days))}"),
                      ("israel",), "IL", d.day(days), country="IL")
    if pick < 0.6:
        return _Draft("israel-early-elections", f"Will Israel hold early elections before {_label(d.day(days))}?",
                      _resolves("a general election for the Knesset is held", f"before {_label(d.day(days))}"),
                      ("israel",), "IL", d.day(days), probability=r.uniform(0.1, 0.5), country="IL")
    party = r.choice(KNESSET_PARTIES)
    return _Draft(f"knesset-most-seats-{party}", f"Will {party} win the most seats in the next Knesset election?",
                  _resolves(f"{party} wins more seats than any other list", "in the next Knesset election"),
                  ("israel",), _initials(party), d.day(r.randint(150, 360)), probability=r.uniform(0.05, 0.6),
                  country="IL", event=_outcome_of("knesset-most-seats",
                                                  "Which list wins the most seats in the next Knesset election?"))


def _uk(r, d):
    if r.random() < 0.6:
        party, days = r.choice(UK_PARTIES), r.randint(7, 40)
        return _Draft(f"uk-poll-lead-{party}", f"Will {party} lead the last UK poll of {d.month(days / 30)}?",
                      _resolves(f"{party} has the highest vote share in the last published national poll",
                                f"of {d.month(days / 30)}"),
                      ("uk",), "UK", d.day(days), probability=r.uniform(0.05, 0.6), country="GB")
    days = r.randint(60, 300)
    return _Draft("uk-general-election", f"Will the UK hold a general election before {_label(d.day(days))}?",
                  _resolves("polling day of a UK general election falls", f"before {_label(d.day(days))}"),
                  ("uk",), "UK", d.day(days), probability=r.uniform(0.03, 0.2), country="GB")


def _eu(r, d):
    vote, days = r.choice(EU_VOTES), r.randint(20, 180)
    return _Draft(f"eu-parliament-{vote}", f"Will the European Parliament approve {vote} by {_label(d.day(days))}?",
                  _resolves(f"the European Parliament approves {vote} in plenary", f"by {_label(d.day(days))}"),
                  ("eu",), "EU", d.day(days), country="DE" if r.random() < 0.5 else "FR")


def _germany(r, d):
    party, share, days = r.choice(DE_PARTIES), r.choice((10, 15, 20, 25, 30)), r.randint(14, 90)
    return _Draft(f"germany-poll-{party}-{share}",
                  f"Will {party} poll above {share}% in Germany by {_label(d.day(days))}?",
                  _resolves(f"{party} is above {share}% in the national polling average", f"on {_label(d.day(days))}"),
                  ("germany", "eu"), "DE", d.day(days), country="DE")


def _brazil(r, d):
    days = r.randint(30, 200)
    return _Draft("brazil-tax-reform",
                  f"Will Brazil's Congress approve the income-tax reform by {_label(d.day(days))}?",
                  _resolves("both houses of Brazil's Congress approve the income-tax reform",
                            f"by {_label(d.day(days))}"),
                  ("brazil",), "BR", d.day(days), country="BR")


def _france(r, d):
    days = r.randint(20, 150)
    return _Draft("france-no-confidence",
                  f"Will France's government lose a no-confidence vote before {_label(d.day(days))}?",
                  _resolves("the National Assembly adopts a motion of no confidence", f"before {_label(d.day(days))}"),
                  ("france", "eu"), "FR", d.day(days), probability=r.uniform(0.1, 0.45), country="FR")


def _coin_price(r, d):
    coin = r.choice(tuple(COINS))
    symbol, tag, price = COINS[coin]
    ratio = r.choice((0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.5))
    level = price * ratio
    shown = f"${level / 1000:.0f}k" if level >= 10_000 else f"${level:,.0f}"
    days = r.randint(1, 60)
    # Further from the notional price and sooner is less likely: odds a trader would believe.
    z = -math.log(ratio) / (0.08 * math.sqrt(days / 7)) + r.gauss(0, 0.3)
    return _Draft(f"{tag}-above-{shown.strip('$').replace(',', '')}",
                  f"Will {coin} close above {shown} on {_label(d.day(days))}?",
                  _resolves(f"the {symbol}/USD daily close is above {shown}", f"on {_label(d.day(days))} (UTC)"),
                  (tag,), symbol, d.day(days), probability=_sigmoid(max(-4, min(4, z))))


def _coin_ath(r, d):
    coin = r.choice(("Bitcoin", "Ethereum", "Solana", "XRP", "Dogecoin"))
    days = r.randint(20, 180)
    symbol, tag, _ = COINS.get(coin, (coin[:4].upper(), "altcoins", None))
    return _Draft(f"{coin}-all-time-high", f"Will {coin} hit a new all-time high by {_label(d.day(days))}?",
                  _resolves(f"{coin} trades above its previous all-time high", f"by {_label(d.day(days))}"),
                  (tag,), symbol, d.day(days))


def _coin_etf(r, d):
    coin, days = r.choice(ETF_COINS), r.randint(20, 240)
    tags = ("etfs", "solana") if coin == "Solana" else ("etfs",)
    return _Draft(f"spot-{coin}-etf", f"Will a spot {coin} ETF be approved in the US by {_label(d.day(days))}?",
                  _resolves(f"the SEC approves a spot {coin} exchange-traded product", f"by {_label(d.day(days))}"),
                  tags, "ETF", d.day(days))


def _etf_flows(r, d):
    billions, days = r.choice((0.5, 1, 2, 3)), r.randint(2, 6)
    return _Draft(f"bitcoin-etf-inflows-{billions}b",
                  f"Will US spot Bitcoin ETFs take in more than ${billions}B this week?",
                  _resolves(f"net inflows into US spot Bitcoin ETFs exceed ${billions}B", "for the current week"),
                  ("bitcoin", "etfs"), "ETF", d.day(days), probability=r.uniform(0.15, 0.7))


def _stablecoins(r, d):
    billions, days = r.choice((250, 300, 350, 400)), r.randint(30, 200)
    return _Draft(f"stablecoin-supply-{billions}b",
                  f"Will total stablecoin supply exceed ${billions}B by {_label(d.day(days))}?",
                  _resolves(f"the total supply of USD stablecoins is above ${billions}B", f"on {_label(d.day(days))}"),
                  ("stablecoins",), "USD", d.day(days))


def _eth_vs_btc(r, d):
    days = r.randint(10, 40)
    return _Draft("eth-outperforms-btc", f"Will Ethereum outperform Bitcoin through {_label(d.day(days))}?",
                  _resolves("ETH's return from today exceeds BTC's", f"at the daily close of {_label(d.day(days))}"),
                  ("ethereum", "bitcoin"), "ETH", d.day(days))


def _fed(r, d):
    months = r.randint(1, 6)
    return _Draft(f"fed-cut-meeting-{months}", f"Will the Fed cut rates at the {d.month(months)} meeting?",
                  _resolves("the FOMC lowers the federal funds target range", f"at its {d.month(months)} meeting"),
                  ("fed",), "FED", d.day(30 * months), country="US")


def _ecb(r, d):
    months = r.randint(1, 6)
    return _Draft(f"ecb-cut-{months}", f"Will the ECB cut rates in {d.month(months)}?",
                  _resolves("the ECB lowers its deposit facility rate", f"at its {d.month(months)} meeting"),
                  ("ecb",), "ECB", d.day(30 * months), country="DE")


def _cpi(r, d):
    level, months = r.choice((2.4, 2.6, 2.8, 3.0, 3.2)), r.randint(1, 3)
    return _Draft(f"us-cpi-above-{level}-{months}",
                  f"Will US CPI inflation be above {level}% for {d.month(months - 1)}?",
                  _resolves(f"year-on-year CPI inflation is above {level}%", f"for {d.month(months - 1)}"),
                  ("inflation",), "CPI", d.day(30 * months), country="US")


def _uk_inflation(r, d):
    level = r.choice((2.0, 2.5, 3.0, 3.5))
    return _Draft(f"uk-inflation-below-{level}", f"Will UK inflation fall below {level}% in the next ONS release?",
                  _resolves(f"the next ONS CPI release shows annual inflation below {level}%", ""),
                  ("inflation",), "ONS", d.day(r.randint(10, 35)), country="GB")


def _jobs(r, d):
    rate, months = r.choice((4.0, 4.2, 4.4, 4.6)), r.randint(1, 3)
    return _Draft(f"us-unemployment-{rate}-{months}",
                  f"Will US unemployment be {rate}% or higher in the {d.month(months)} jobs report?",
                  _resolves(f"the headline unemployment rate is {rate}% or higher", f"in the {d.month(months)} report"),
                  ("jobs",), "JOB", d.day(30 * months), country="US")


def _stocks(r, d):
    days = r.randint(3, 90)
    if r.random() < 0.5:
        level = r.choice((5500, 6000, 6500, 7000, 7500))
        return _Draft(f"sp500-above-{level}", f"Will the S&P 500 close above {level:,} on {_label(d.day(days))}?",
                      _resolves(f"the S&P 500 closes above {level:,}", f"on {_label(d.day(days))}"),
                      ("stocks",), "SPX", d.day(days), country="US")
    company = r.choice(COMPANIES)
    return _Draft(f"largest-company-{company}",
                  f"Will {company} be the world's largest company on {_label(d.day(days))}?",
                  _resolves(f"{company} has the largest market capitalisation of any listed company",
                            f"at the close on {_label(d.day(days))}"),
                  ("stocks",), _initials(company), d.day(days))


def _recession(r, d):
    (name, country), year = r.choice(RECESSION_COUNTRIES), (d.anchor + timedelta(days=200)).year
    return _Draft(f"recession-{name}", f"Will {name} enter a recession in {year}?",
                  _resolves(f"{name} records two consecutive quarters of negative GDP growth", f"in {year}"),
                  ("recession",), _initials(name), d.day(r.randint(200, 400)), probability=r.uniform(0.05, 0.4),
                  country=country)


def _commodities(r, d):
    days = r.randint(10, 120)
    if r.random() < 0.5:
        level = r.choice((60, 70, 80, 90, 100))
        return _Draft(f"brent-above-{level}", f"Will Brent crude trade above ${level} by {_label(d.day(days))}?",
                      _resolves(f"front-month Brent futures trade above ${level}", f"by {_label(d.day(days))}"),
                      ("commodities",), "OIL", d.day(days))
    level = r.choice((3000, 3500, 4000, 4500))
    return _Draft(f"gold-above-{level}", f"Will gold hit ${level:,} an ounce by {_label(d.day(days))}?",
                  _resolves(f"spot gold trades at or above ${level:,}", f"by {_label(d.day(days))}"),
                  ("commodities",), "AU", d.day(days))


def _made_up_title(r):
    adj, noun = TITLE_WORDS
    return f"The {r.choice(noun)}" if r.random() < 0.3 else f"{r.choice(adj)} {r.choice(noun)}"


def _artist(r):
    first, last = ARTIST_NAMES
    return f"{r.choice(first)} {r.choice(last)}"


def _box_office(r, d):
    film, millions = _made_up_title(r), r.choice((40, 60, 80, 100, 150))
    release = d.anchor + timedelta(days=r.randint(1, 25))
    return _Draft(f"box-office-{film}-{millions}m",
                  f"Will '{film}' gross more than ${millions}M on its opening weekend?",
                  _resolves(f"'{film}' grosses more than ${millions}M at the domestic box office",
                            "over its opening weekend"),
                  ("movies",), _initials(*film.split()[-2:]), d.day((release - d.anchor).days + 3))


def _awards(r, d):
    if r.random() < 0.5:
        film = _made_up_title(r)
        start = d.anchor + timedelta(days=r.randint(40, 120))
        return _Draft(f"best-picture-{film}", f"Will '{film}' win Best Picture at the Oscars?",
                      _resolves(f"'{film}' wins Best Picture", "at the next Academy Awards"),
                      ("awards", "movies"), _initials(*film.split()[-2:]), start + timedelta(hours=4), start,
                      probability=r.uniform(0.03, 0.4))
    artist = _artist(r)
    start = d.anchor + timedelta(days=r.randint(30, 100))
    return _Draft(f"grammy-aoty-{artist}", f"Will {artist} win Album of the Year at the Grammys?",
                  _resolves(f"{artist} wins Album of the Year", "at the next Grammy Awards"),
                  ("awards", "music"), _initials(*artist.split()), start + timedelta(hours=4), start,
                  probability=r.uniform(0.03, 0.4))


def _music(r, d):
    artist = _artist(r)
    if r.random() < 0.5:
        return _Draft(f"hot-100-debut-{artist}", f"Will {artist}'s new single debut at #1 on the Hot 100?",
                      _resolves(f"{artist}'s next single enters the Billboard Hot 100 at number one", ""),
                      ("music",), _initials(*artist.split()), d.day(r.randint(7, 30)))
    days = r.randint(20, 120)
    return _Draft(f"world-tour-{artist}", f"Will {artist} announce a world tour by {_label(d.day(days))}?",
                  _resolves(f"{artist} announces dates on three or more continents", f"by {_label(d.day(days))}"),
                  ("music",), _initials(*artist.split()), d.day(days))


def _tv(r, d):
    show, millions = _made_up_title(r), r.choice((5, 8, 10, 15))
    return _Draft(f"tv-finale-{show}-{millions}m", f"Will the '{show}' finale draw more than {millions}M viewers?",
                  _resolves(f"the season finale of '{show}' is watched by more than {millions}M people",
                            "in its first three days"),
                  ("tv",), _initials(*show.split()[-2:]), d.day(r.randint(5, 60)))


def _gaming(r, d):
    game = _made_up_title(r)
    if r.random() < 0.5:
        millions = r.choice((2, 5, 10))
        return _Draft(f"game-sales-{game}-{millions}m", f"Will '{game}' sell {millions}M copies in its first week?",
                      _resolves(f"the publisher reports {millions}M or more copies sold", "in the first week"),
                      ("gaming",), _initials(*game.split()[-2:]), d.day(r.randint(10, 60)))
    start = d.anchor + timedelta(days=r.randint(20, 90))
    return _Draft(f"game-of-the-year-{game}", f"Will '{game}' win Game of the Year at The Game Awards?",
                  _resolves(f"'{game}' wins Game of the Year", "at the next Game Awards"),
                  ("gaming", "awards"), _initials(*game.split()[-2:]), start + timedelta(hours=4), start,
                  probability=r.uniform(0.05, 0.4))


def _ai(r, d):
    lab, days = r.choice(AI_LABS), r.randint(14, 120)
    if r.random() < 0.6:
        return _Draft(f"ai-frontier-release-{lab}",
                      f"Will {lab} release a new frontier model before {_label(d.day(days))}?",
                      _resolves(f"{lab} makes a new flagship model generally available",
                                f"before {_label(d.day(days))}"),
                      ("ai",), _initials(lab), d.day(days))
    return _Draft(f"ai-arena-top-{lab}", f"Will {lab} top the Chatbot Arena leaderboard on {_label(d.day(days))}?",
                  _resolves(f"a {lab} model is ranked first on the text leaderboard", f"on {_label(d.day(days))}"),
                  ("ai",), _initials(lab), d.day(days), probability=r.uniform(0.05, 0.5))


def _space(r, d):
    days = r.randint(14, 200)
    if r.random() < 0.4:
        return _Draft("starship-orbit", f"Will Starship reach orbit by {_label(d.day(days))}?",
                      _resolves("a Starship upper stage completes at least one full orbit",
                                f"by {_label(d.day(days))}"),
                      ("space",), "SX", d.day(days))
    agency, mission = r.choice(SPACE_MISSIONS)
    return _Draft(f"launch-{agency}-{mission}", f"Will {agency} launch its {mission} by {_label(d.day(days))}?",
                  _resolves(f"{agency}'s {mission} lifts off", f"by {_label(d.day(days))}"),
                  ("space",), _initials(agency), d.day(days), country="IN" if agency == "ISRO" else "")


def _apple(r, d):
    product = r.choice(APPLE_PRODUCTS)
    return _Draft(f"apple-announces-{product}", f"Will Apple announce {product} at its next event?",
                  _resolves(f"Apple announces {product}", "at its next product event"),
                  ("apple",), "A", d.day(r.randint(14, 150)), probability=r.uniform(0.05, 0.5))


def _biotech(r, d):
    prefix, suffix = DRUG_PARTS
    drug, use, days = r.choice(prefix) + r.choice(suffix), r.choice(DRUG_USES), r.randint(30, 200)
    return _Draft(f"fda-approves-{drug}", f"Will the FDA approve {drug} for {use} by {_label(d.day(days))}?",
                  _resolves(f"the FDA approves {drug} for {use}", f"by {_label(d.day(days))}"),
                  ("biotech",), "Rx", d.day(days))


def _chips(r, d):
    maker, days = r.choice(CHIPMAKERS), r.randint(60, 300)
    return _Draft(f"2nm-mass-production-{maker}",
                  f"Will {maker} start mass production of 2 nm chips by {_label(d.day(days))}?",
                  _resolves(f"{maker} confirms volume production on a 2 nm-class node", f"by {_label(d.day(days))}"),
                  ("chips",), _initials(maker), d.day(days))


def _diplomacy(r, d):
    days, pick = r.randint(20, 200), r.random()
    if pick < 0.3:
        return _Draft("russia-ukraine-ceasefire",
                      f"Will Russia and Ukraine agree to a ceasefire by {_label(d.day(days))}?",
                      _resolves("both governments announce a general ceasefire", f"by {_label(d.day(days))}"),
                      ("ukraine", "diplomacy"), "UA", d.day(days), probability=r.uniform(0.05, 0.35))
    if pick < 0.55:
        return _Draft("israel-saudi-normalization",
                      f"Will Israel and Saudi Arabia announce normalization by {_label(d.day(days))}?",
                      _resolves("both governments announce the establishment of diplomatic relations",
                                f"by {_label(d.day(days))}"),
                      ("middle-east", "diplomacy"), "ME", d.day(days), probability=r.uniform(0.03, 0.25),
                      country="IL")
    if pick < 0.8:
        return _Draft("us-china-meeting",
                      f"Will the US and Chinese presidents meet in person by {_label(d.day(days))}?",
                      _resolves("the two presidents hold an in-person meeting", f"by {_label(d.day(days))}"),
                      ("china", "diplomacy"), "CN", d.day(days))
    return _Draft("us-china-trade-deal", f"Will the US and China announce a trade deal by {_label(d.day(days))}?",
                  _resolves("both governments announce a signed trade agreement", f"by {_label(d.day(days))}"),
                  ("china", "trade"), "CN", d.day(days))


def _trade(r, d):
    partner, days = r.choice(FTA_PARTNERS), r.randint(30, 300)
    return _Draft(f"eu-fta-{partner}",
                  f"Will the EU and {partner} sign a free-trade agreement by {_label(d.day(days))}?",
                  _resolves(f"the EU and {partner} sign a free-trade agreement", f"by {_label(d.day(days))}"),
                  ("trade",), "EU", d.day(days))


def _world_election(r, d):
    country = r.choice(ELECTION_COUNTRIES)
    if r.random() < 0.5:
        return _Draft(f"ruling-party-wins-{country}", f"Will {country}'s ruling party win the next general election?",
                      _resolves(f"the party now leading {country}'s government wins the most seats",
                                "at the next general election"),
                      ("world-elections",), _initials(country), d.day(r.randint(90, 400)),
                      country="IN" if country == "India" else "")
    days = r.randint(30, 200)
    return _Draft(f"snap-election-{country}", f"Will {country} hold a snap election before {_label(d.day(days))}?",
                  _resolves(f"{country} holds a national election ahead of schedule", f"before {_label(d.day(days))}"),
                  ("world-elections",), _initials(country), d.day(days), probability=r.uniform(0.03, 0.3),
                  country="IN" if country == "India" else "")


def _latin_america(r, d):
    level, days = r.choice((1.5, 2.0, 2.5, 3.0)), r.randint(30, 150)
    return _Draft(f"argentina-monthly-inflation-{level}",
                  f"Will Argentina's monthly inflation fall below {level}% by {_label(d.day(days))}?",
                  _resolves(f"INDEC reports monthly inflation below {level}%",
                            f"in a release by {_label(d.day(days))}"),
                  ("latin-america",), "AR", d.day(days))


def _heat(r, d):
    city, country, unit, hot = r.choice(HOT_CITIES)
    level, days = hot + r.randint(-3, 3), r.randint(1, 7)
    return _Draft(f"temperature-{city}-{level}{unit}", f"Will {city} hit {level}°{unit} on {_label(d.day(days))}?",
                  _resolves(f"the official station in {city} records {level}°{unit} or more",
                            f"on {_label(d.day(days))}"),
                  ("temperature",), _initials(*city.split()), d.day(days), probability=r.uniform(0.05, 0.6),
                  country=country)


def _snow(r, d):
    city, country = r.choice(SNOW_CITIES)
    days = r.randint(5, 60)
    return _Draft(f"snow-{city}", f"Will {city} see measurable snow before {_label(d.day(days))}?",
                  _resolves(f"the official station in {city} records at least 0.1 in of snow",
                            f"before {_label(d.day(days))}"),
                  ("snow",), _initials(*city.split()), d.day(days), country=country)


def _hurricanes(r, d):
    if r.random() < 0.5:
        category = r.choice((3, 4, 5))
        days = r.randint(30, 200)
        return _Draft(f"us-landfall-cat-{category}",
                      f"Will a Category {category}+ hurricane hit the US before {_label(d.day(days))}?",
                      _resolves(f"a hurricane makes US landfall at Category {category} or stronger",
                                f"before {_label(d.day(days))}"),
                      ("hurricanes",), f"C{category}", d.day(days), country="US")
    storms = r.choice((14, 17, 20))
    return _Draft(f"atlantic-named-storms-{storms}",
                  f"Will the next Atlantic season have more than {storms} named storms?",
                  _resolves(f"the National Hurricane Center names more than {storms} storms", "in the next season"),
                  ("hurricanes",), "ATL", d.day(r.randint(200, 360)), country="US")


def _climate(r, d):
    if r.random() < 0.5:
        year = (d.anchor + timedelta(days=60)).year
        return _Draft("hottest-year-on-record", f"Will {year} be the hottest year on record?",
                      _resolves(f"{year} ranks first in the Copernicus global temperature record", "when published"),
                      ("climate",), "CO2", d.day(r.randint(60, 120)))
    months = r.randint(1, 4)
    return _Draft(f"hottest-month-{months}", f"Will {d.month(months)} be the hottest {d.month(months)} on record?",
                  _resolves(f"{d.month(months)} is the warmest on record globally", "in the Copernicus data"),
                  ("climate",), "CO2", d.day(30 * months + 10))


TEMPLATES = {  # category -> ((weight, template), ...)
    "Sports": ((5, _nba_game), (1, _nba_title), (3, _nfl_game), (1, _nfl_title), (5, _soccer_game),
               (2, _champions_league), (2, _soccer_title), (2, _tennis), (1, _tennis_match), (2, _f1),
               (1, _olympics), (1, _cricket)),
    "Politics": ((2, _senate_race), (1, _house_control), (2, _congress_bill), (1, _shutdown), (3, _israel), (2, _uk),
                 (2, _eu), (1, _germany), (1, _brazil), (1, _france)),
    "Crypto": ((5, _coin_price), (2, _coin_ath), (2, _coin_etf), (1, _etf_flows), (1, _stablecoins),
               (1, _eth_vs_btc)),
    "Business": ((2, _fed), (1, _ecb), (2, _cpi), (1, _uk_inflation), (1, _jobs), (2, _stocks), (1, _recession),
                (1, _commodities)),
    "Culture": ((2, _box_office), (2, _awards), (2, _music), (1, _tv), (2, _gaming)),
    "Science & Tech": ((3, _ai), (2, _space), (1, _apple), (1, _biotech), (1, _chips)),
    "World": ((3, _diplomacy), (1, _trade), (2, _world_election), (1, _latin_america)),
    "Weather": ((3, _heat), (1, _snow), (1, _hurricanes), (1, _climate)),
}


# --- Generation ------------------------------------------------------------------------------------

def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def _logit(p):
    p = min(0.99, max(0.01, p))
    return math.log(p / (1.0 - p))


def _weighted(r, pairs):
    total = sum(w for w, _ in pairs)
    x = r.uniform(0, total)
    for weight, item in pairs:
        x -= weight
        if x <= 0:
            return item
    return pairs[-1][1]


def snapshot_grid(anchor):
    """The times of the generated snapshots: every 15 min over 24 h, up to the last completed slot.

    The slot the anchor is in is left to the beat task (`market_snapshots_refresh` writes one
    snapshot per open market per slot), so its first run after seeding takes the current state.
    """
    seconds = int(SNAPSHOT_STEP.total_seconds())
    slot_start = anchor - timedelta(seconds=int(anchor.timestamp()) % seconds, microseconds=anchor.microsecond)
    last = slot_start - SNAPSHOT_STEP
    return [last - (SNAPSHOT_POINTS - 1 - k) * SNAPSHOT_STEP for k in range(SNAPSHOT_POINTS)]


def placeholder_image(category, badge):
    """A small inline SVG (category colour and initials): the demo needs no image host and no network."""
    colour = CATEGORIES[category][0]
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 600 300'>"
        f"<rect width='600' height='300' fill='{colour}'/>"
        "<circle cx='520' cy='40' r='150' fill='#fff' fill-opacity='.08'/>"
        "<text x='300' y='195' font-family='Helvetica,Arial,sans-serif' font-size='120' font-weight='700' "
        f"fill='#fff' text-anchor='middle'>{escape(badge[:3])}</text></svg>"
    )
    url = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
    assert len(url) <= IMAGE_URL_MAX, len(url)
    return url


def catalog_generate(*, seed, count, now):
    """The demo catalog for `seed`, `count` markets and the anchor `now` (floored to the minute).

    Every market draws from its own generator seeded by (seed, index), and no draw depends on
    the anchor: the same seed gives the same markets whatever the size, and a different anchor
    only moves their dates.
    """
    anchor = now.replace(second=0, microsecond=0)
    dates = _Dates(anchor)
    grid = snapshot_grid(anchor)
    categories = [(weight, name) for name, (_, weight, _, _) in CATEGORIES.items()]
    keys, titles, markets = Counter(), set(), []
    for index in range(count):
        r = random.Random(f"demo-catalog:{seed}:{index}")
        category = _weighted(r, categories)
        # A new subject rather than the same one twice; failing that, the same question with
        # another date (a date ladder, as real sites list them); never the same title twice.
        fallback = None
        for _attempt in range(12):
            draft = _weighted(r, TEMPLATES[category])(r, dates)
            key = slugify(draft.key)[:180]
            if draft.title not in titles:
                if key not in keys:
                    break
                fallback = fallback or (draft, key)
        else:
            draft, key = fallback or (draft, key)
        keys[key] += 1
        titles.add(draft.title)
        market_id = key if keys[key] == 1 else f"{key}-{keys[key]}"
        markets.append(_market(r, market_id, category, draft, anchor, grid))
    boosts = _boosts(seed, markets, anchor)
    picks = {b.market_id for b in boosts if b.value > 0}
    markets = [
        replace(m, editorial_description=f"Editors' pick: one of the most traded {m.category} markets right now.")
        if m.market_id in picks else m
        for m in markets
    ]
    return DemoCatalog(seed=seed, anchor=anchor, markets=tuple(markets), boosts=boosts)


def _market(r, market_id, category, draft, anchor, grid):
    _, _, volume_factor, _ = CATEGORIES[category]
    created_at = anchor - timedelta(minutes=r.randint(45, 30 * 1440))
    if draft.event_start_at is not None and draft.event_start_at - anchor < timedelta(days=10):
        created_at = max(created_at, draft.event_start_at - timedelta(days=14))  # games open two weeks ahead
    prior = draft.probability if draft.probability is not None else _sigmoid(r.gauss(0, 1.3))
    daily = min(4e6, max(150.0, math.exp(r.gauss(math.log(12_000 * volume_factor), 1.3))))
    stake = r.uniform(35, 180)  # mean money per participant
    u = r.random()
    status = Market.Status.OPEN
    if draft.event_start_at is None and u < 0.03:
        status = Market.Status.RESOLVED
    elif draft.event_start_at is None and u < 0.06:
        status = Market.Status.CLOSED
    news_at = None
    if r.random() < 0.12:
        news_at = anchor - timedelta(minutes=r.randint(10, 1440))
    elif r.random() < 0.12:
        news_at = anchor - timedelta(minutes=r.randint(1440, 7 * 1440))

    spec = dict(
        market_id=market_id, title=draft.title, description=draft.description, category=category,
        tags=tuple(dict.fromkeys(draft.tags)), image_url=placeholder_image(category, draft.badge),
        status=status, country=draft.country, event_start_at=draft.event_start_at, event=draft.event,
    )
    if status != Market.Status.OPEN:
        ended_at = anchor - timedelta(minutes=r.randint(60, 36 * 60))
        created_at = min(created_at, ended_at - timedelta(days=r.randint(2, 20)))
        age_days = (ended_at - created_at).total_seconds() / 86400
        total = round(daily * age_days * r.uniform(0.5, 1.1), 2)
        recent = max(0.0, 1 - (anchor - ended_at).total_seconds() / 86400)
        resolved = status == Market.Status.RESOLVED
        return MarketSpec(
            **spec, created_at=created_at, ended_at=ended_at,
            probability=(1.0 if r.random() < prior else 0.0) if resolved else round(prior, 4),
            volume_24h=round(daily * recent, 2), volume_total=total, participant_count=max(1, round(total / stake)),
            resolution_date=ended_at if resolved else anchor + timedelta(minutes=r.randint(60, 48 * 60)),
            news_at=news_at if news_at is None else max(news_at, created_at),
        )

    # Odds: a random walk in logit space over the last 24 h, sometimes with one sharp move.
    steps = SNAPSHOT_POINTS - 1
    sigma = r.uniform(0.02, 0.08)
    jump_step, jump = None, 0.0
    if r.random() < 0.10:
        jump_step = steps - (r.randint(1, 12) if r.random() < 0.45 else r.randint(13, steps - 1))
        jump = r.choice((-1, 1)) * r.uniform(0.7, 1.6)
    x, odds = _logit(prior), []
    for k in range(SNAPSHOT_POINTS):
        if k:
            x += r.gauss(0, sigma) + (jump if k == jump_step else 0.0)
            x = max(-4.5, min(4.5, x))
        odds.append(round(_sigmoid(x), 4))
    # Volume: 15-minute trade increments over 48 h (so each snapshot has a full 24 h window), with spikes.
    increments = [daily / 96 * r.gammavariate(2.0, 0.5) for _ in range(2 * steps)]
    spike_step = None
    if jump_step is not None:
        spike_step, size = steps + jump_step - 1, r.uniform(4, 10)
    elif r.random() < 0.06:
        spike_step, size = 2 * steps - r.randint(1, 10), r.uniform(5, 12)
    if spike_step is not None:
        for j in range(spike_step, min(2 * steps, spike_step + r.randint(2, 4))):
            increments[j] *= size
    window_start = grid[0] - steps * SNAPSHOT_STEP
    for j in range(2 * steps):  # nothing traded before the market existed
        if window_start + (j + 1) * SNAPSHOT_STEP <= created_at:
            increments[j] = 0.0
    age_days = (window_start - created_at).total_seconds() / 86400
    total = daily * max(0.0, age_days) * r.uniform(0.5, 1.1)
    snapshots, cumulative = [], total + sum(increments[:steps])
    for k, taken_at in enumerate(grid):
        if k:
            cumulative += increments[steps + k - 1]
        if taken_at < created_at:
            continue
        volume_24h = round(sum(increments[k : steps + k]), 2)
        snapshots.append(Snapshot(taken_at, odds[k], volume_24h, round(cumulative, 2),
                                  max(1, round(cumulative / stake))))
    if not snapshots:  # created after the last grid point: its first state is its current one
        snapshots.append(Snapshot(grid[-1], odds[-1], 0.0, 0.0, 1))
    surge_at, surge = None, 0.0
    if jump_step is not None:
        surge_at, surge = grid[jump_step], min(1.0, abs(jump) / 1.2)
        if r.random() < 0.7:
            news_at = grid[jump_step] - timedelta(minutes=r.randint(2, 20))
    elif spike_step is not None:
        surge_at, surge = window_start + spike_step * SNAPSHOT_STEP, 0.6
    last = snapshots[-1]
    return MarketSpec(
        **spec, created_at=created_at, probability=last.probability, volume_24h=last.volume_24h,
        volume_total=last.volume_total, participant_count=last.participant_count,
        resolution_date=draft.resolution_date, news_at=news_at if news_at is None else max(news_at, created_at),
        surge_at=surge_at, surge=surge, snapshots=tuple(snapshots),
    )


def _boosts(seed, markets, anchor):
    """Four active boosts: a pinned hero pick, two pushes and one demotion."""
    r = random.Random(f"demo-boosts:{seed}")
    open_markets = sorted((m for m in markets if m.status == Market.Status.OPEN), key=lambda m: -m.volume_24h)
    if not open_markets:
        return ()
    top = open_markets[: max(4, len(open_markets) // 10)]
    picks = r.sample(top, min(3, len(top)))
    rest = [m for m in open_markets[len(open_markets) // 2 :] if m not in picks]
    starts, ends = anchor - timedelta(hours=6), anchor + timedelta(days=14)
    plan = [(0.8, ["home"], 0, "pinned hero pick"), (0.6, [], None, "editors' pick"), (0.4, [], None, "editors' pick")]
    boosts = [
        BoostSpec(m.market_id, value, starts, ends, surfaces, slot, f"{BOOST_NOTE_PREFIX} {note}")
        for m, (value, surfaces, slot, note) in zip(picks, plan, strict=True)
    ]
    if rest:
        boosts.append(BoostSpec(r.choice(rest).market_id, -0.5, starts, ends, [], None,
                                f"{BOOST_NOTE_PREFIX} thin liquidity, demoted"))
    return tuple(boosts)


def demo_catalog_build(*, seed, count, now):
    """The catalog to write: generated for `now`, or for the anchor of an earlier run of the same seed.

    A re-run must change nothing, so when markets of this catalog already exist their stored
    `created_at` tells the anchor they were generated for, and the catalog is generated again
    for that anchor. The answer must come from most of the matching markets (at least three
    when the catalog has three), so an edited market, or a slug another seed happens to share,
    does not move the catalog.
    """
    catalog = catalog_generate(seed=seed, count=count, now=now)
    ages = {m.market_id: catalog.anchor - m.created_at for m in catalog.markets}
    stored = list(Market.objects.filter(market_id__in=ages).values_list("market_id", "created_at"))
    anchors = Counter(created_at + ages[market_id] for market_id, created_at in stored)
    if not anchors:
        return catalog
    anchor, votes = anchors.most_common(1)[0]
    if votes * 2 <= len(stored) or votes < min(3, count) or anchor >= catalog.anchor:
        return catalog
    return catalog_generate(seed=seed, count=count, now=anchor)


@dataclass
class CatalogWriteResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    tags: int = 0
    snapshots: int = 0
    boosts: int = 0


@transaction.atomic
def demo_catalog_write(*, catalog, now):
    """Store the catalog: markets and tags through `markets_import`, then each new market's snapshot
    history and the editorial boosts.

    Idempotent: a second run with the same catalog writes nothing. A market whose trading state
    the upsert changes gets a snapshot at `now`, like any other state change; a new one
    gets its generated history instead.
    """
    rows = [
        MarketRow(f"demo market {i}", m.market_id, m.values(), tuple((t, catalog.tags[t]) for t in m.tags),
                  event=EventRow(f"demo-{m.event[0]}", m.event[1], slug=m.event[0]) if m.event else None)
        for i, m in enumerate(catalog.markets, 1)
    ]
    imported = markets_import(rows=rows, now=now, snapshot_created=False)
    if imported.rejected:
        raise ValueError(f"the demo generator made markets the importer refuses: {imported.rejected[:3]}")
    result = CatalogWriteResult(
        created=imported.created, updated=imported.updated, unchanged=imported.unchanged,
        tags=len({t for m in catalog.markets for t in m.tags}), snapshots=imported.snapshots,
    )
    pks = dict(Market.objects.filter(market_id__in=[m.market_id for m in catalog.markets])
               .values_list("market_id", "pk"))

    # The generated history of each market, written as it is: a complete series made for a new market,
    # not observations to compare with the current state as market_states_update does (which would
    # drop the points where nothing moved). A moment already stored keeps its row.
    result.snapshots += market_snapshots_store(rows=[
        (pks[m.market_id], s.taken_at, {name: getattr(s, name, 0) for name in SNAPSHOT_FIELDS})
        for m in catalog.markets for s in m.snapshots
    ], replace=False)

    have = set(EditorialBoost.objects.filter(market_id__in=pks.values(), note__startswith=BOOST_NOTE_PREFIX)
               .values_list("market_id", "note"))
    boosts = [
        EditorialBoost(market_id=pks[b.market_id], value=b.value, starts_at=b.starts_at, ends_at=b.ends_at,
                       surfaces=b.surfaces, pinned_slot=b.pinned_slot, note=b.note)
        for b in catalog.boosts if (pks[b.market_id], b.note) not in have
    ]
    EditorialBoost.objects.bulk_create(boosts)
    result.boosts = len(boosts)
    if imported.written or result.snapshots or boosts:
        transaction.on_commit(catalog_version_bump)
    return result

