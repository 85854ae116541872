"""The real public samples of each platform (docs/market-import.md#platforms) through `manage.py import_markets`.

The samples are not in the repository: they are found through PLATFORM_SAMPLES_DIR, else beside
the repository in ../shared/data/platform-samples; without them these tests skip.
"""
import io
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from feedproject.vocabulary import OTHER
from markets.import_files import file_rows_read
from markets.models import Event, Market

pytestmark = pytest.mark.django_db

SAMPLES = {
    "gamma_markets.json": "gamma-markets-json",
    "kalshi_events_with_nested_markets.json": "kalshi-json",
    "kalshi_all_markets.csv": "kalshi-csv",
    "manifold_v0_markets.json": "manifold-json",
    "predictit_marketdata_all.json": "predictit-json",
}


def samples_dir():
    configured = os.environ.get("PLATFORM_SAMPLES_DIR")
    directory = Path(configured) if configured else Path(settings.BASE_DIR).parent / "shared/data/platform-samples"
    if not directory.is_dir():
        pytest.skip(f"no platform samples at {directory} (set PLATFORM_SAMPLES_DIR to the samples' directory)")
    missing = [name for name in SAMPLES if not (directory / name).is_file()]
    if missing:
        pytest.skip(f"platform samples missing in {directory}: {', '.join(missing)}")
    return directory


@pytest.mark.parametrize("name", SAMPLES)
def test_each_real_sample_is_detected_as_its_own_format(name):
    assert file_rows_read(samples_dir() / name)[0] == SAMPLES[name]


@pytest.mark.parametrize("name", SAMPLES)
def test_each_real_sample_imports_markets_with_sensible_categories_and_events(name):
    path = samples_dir() / name
    out = io.StringIO()
    call_command("import_markets", str(path), stdout=out, stderr=io.StringIO())
    markets = Market.objects.all()
    assert markets.count() > 0, out.getvalue()
    categories = set(markets.values_list("category", flat=True))
    assert categories - {OTHER}, f"{name}: every market is {OTHER}"
    assert all(0.0 <= p <= 1.0 for p in markets.values_list("probability", flat=True))
    if name != "manifold_v0_markets.json":  # Manifold's market list carries no event
        assert Event.objects.exists()
        assert not markets.filter(event=None).exists(), f"{name}: a market without its event"
    # The same file again writes nothing.
    again = io.StringIO()
    call_command("import_markets", str(path), stdout=again, stderr=io.StringIO())
    assert "created 0, updated 0," in again.getvalue()


def test_the_real_samples_import_together():
    directory = samples_dir()
    # The Kalshi CSV is the export of the JSON's markets: one Kalshi source per catalog (docs/market-import.md).
    paths = [str(directory / name) for name in SAMPLES if name != "kalshi_all_markets.csv"]
    out = io.StringIO()
    call_command("import_markets", *paths, stdout=out, stderr=io.StringIO())
    assert "total: created 12, updated 0, unchanged 0, rejected 2" in out.getvalue()
    assert set(Market.objects.values_list("category", flat=True)) == {"Politics", "World", "Science & Tech"}
    assert Event.objects.count() == 1 + 3 + 2
