import pytest


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache and no in-memory catalog, whatever backend the env selects."""
    from django.core.cache import cache

    from personalization.selectors import caches_reset

    try:
        cache.clear()
    except Exception:  # a test that simulates a broken cache must still start
        pass
    caches_reset()
    yield
