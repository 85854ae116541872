"""The value of each event kind is the editors' (FeedConfig "events"): the affinity update reads it."""
import pytest
from django.utils import timezone

from ingestion.tests.conftest import make_event
from markets.tests.factories import MarketFactory
from personalization.feed_configs import feed_config_save_version
from personalization.forms import FeedConfigForm, param_field_name
from personalization.models import TopicAffinity
from personalization.ranking.config import PARAMS_BY_KEY, default_params, validate_params
from personalization.selectors import caches_reset
from tracking.tests.pipeline_data import ingest

pytestmark = pytest.mark.django_db


def category_score(user):
    return TopicAffinity.objects.get(user_key=user, horizon="long", topic_type="category").score


def test_a_click_adds_the_configured_value_to_the_affinity():
    MarketFactory(market_id="m", category="Sports", tags=[])
    now = timezone.now()
    ingest([make_event("m", "click", at=now, user_key="u:1")], received_at=now)
    assert category_score("u:1") == pytest.approx(2.0)  # the default: SPEC's click weight

    params = default_params()
    params["events"]["click"] = 5.0
    feed_config_save_version(surface="home", params=params, note="clicks count more", created_by=None, activate=True)
    caches_reset()
    ingest([make_event("m", "click", at=now, user_key="u:2")], received_at=now)
    assert category_score("u:2") == pytest.approx(5.0)


def test_an_event_value_keeps_its_sign():
    params = default_params()
    params["events"]["hide"] = 2.0
    params["events"]["participate"] = -1.0
    errors = dict(validate_params(params))
    assert errors["events.hide"] == "must be between -20 and 0, got 2"
    assert errors["events.participate"] == "must be between 0 and 20, got -1"


def test_the_ranker_is_a_choice_between_the_formula_and_the_learned_model():
    param = PARAMS_BY_KEY["ranker.model"]
    field = FeedConfigForm.base_fields[param_field_name(param)]
    assert [label for _, label in field.choices] == ["formula", "learned model (the active ranking model)"]
    params = default_params()
    params["ranker"]["model"] = 0.5
    assert dict(validate_params(params))["ranker.model"] == "must be a whole number"
