"""Personalization admin: read-only user state, and FeedConfig edits that always make a new version."""
import pytest
from django.contrib.admin import site
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from markets.tests.factories import MarketFactory
from personalization.feed_configs import feed_config_activate, feed_config_save_version
from personalization.forms import FeedConfigForm, param_field_name
from personalization.models import FeedConfig, TopicAffinity, UserMarketState, UserProfile
from personalization.ranking.config import GROUPS, PARAMS, default_params

pytestmark = pytest.mark.django_db

READ_ONLY = [UserProfile, TopicAffinity, UserMarketState]


def url(model, view, *args):
    return reverse(f"admin:personalization_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def user_state():
    now = timezone.now()
    market = MarketFactory(market_id="rate-cut-march")
    UserProfile.objects.create(user_key="u:7", created_at=now, last_active_at=now, total_interactions=3)
    TopicAffinity.objects.create(
        user_key="u:7", horizon="long", topic_type="category", topic_value="Economy", score=2.5, updated_at=now
    )
    UserMarketState.objects.create(
        user_key="u:7", market=market, impressions_total=2, last_shown_at=now, updated_at=now
    )
    return market


def home(version):
    return FeedConfig.objects.get(surface="home", version=version)


def form_data(client, config, **changes):
    """The change form as the browser would post it, with `changes` ({field name: value}) applied."""
    form = client.get(url(FeedConfig, "change", config.pk)).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data.update(changes)
    return {key: "" if value is None else value for key, value in data.items()}


# --- read-only user state -------------------------------------------------------------------


@pytest.mark.parametrize("model", READ_ONLY)
def test_user_state_changelist_and_change_page_render(admin_client, user_state, model):
    obj = model.objects.get()
    assert admin_client.get(url(model, "changelist")).status_code == 200
    assert admin_client.get(url(model, "changelist"), {"q": "u:7"}).context["cl"].result_count == 1
    assert admin_client.get(url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", READ_ONLY)
def test_user_state_admins_refuse_add_and_change(admin_client, user_state, model):
    obj = model.objects.get()
    before = model_to_dict(obj)
    assert admin_client.get(url(model, "add")).status_code == 403
    response = admin_client.post(url(model, "change", obj.pk), {"user_key": "u:other", "score": "9", "hidden": "on"})
    assert response.status_code == 403
    assert model_to_dict(model.objects.get()) == before


@pytest.mark.parametrize("model", READ_ONLY)
def test_only_superusers_may_delete_user_state(rf, django_user_model, model):
    request = rf.get("/")
    request.user = django_user_model.objects.create_user("ops", password="x", is_staff=True)
    assert site._registry[model].has_delete_permission(request) is False
    request.user.is_superuser = True
    assert site._registry[model].has_delete_permission(request) is True


def test_user_state_lists_filter_by_horizon_hidden_and_market(admin_client, user_state):
    now = timezone.now()
    TopicAffinity.objects.create(
        user_key="u:7", horizon="session", topic_type="tag", topic_value="fed", score=1.0, updated_at=now
    )
    UserMarketState.objects.create(user_key="u:8", market=MarketFactory(), hidden=True, updated_at=now)
    session = admin_client.get(url(TopicAffinity, "changelist"), {"horizon__exact": "session"}).context["cl"]
    assert [a.topic_value for a in session.result_list] == ["fed"]
    hidden = admin_client.get(url(UserMarketState, "changelist"), {"hidden__exact": "1"}).context["cl"]
    assert [s.user_key for s in hidden.result_list] == ["u:8"]
    by_market = admin_client.get(url(UserMarketState, "changelist"), {"q": "rate-cut-march"}).context["cl"]
    assert [s.user_key for s in by_market.result_list] == ["u:7"]


def test_user_market_state_list_query_count_does_not_grow(admin_client, user_state):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            admin_client.get(url(UserMarketState, "changelist"))
        return len(ctx.captured_queries)

    few = count()
    now = timezone.now()
    for i in range(20):
        UserMarketState.objects.create(user_key=f"u:{i}", market=MarketFactory(), updated_at=now)
    assert count() == few


# --- FeedConfig -------------------------------------------------------------------------------


def test_feed_config_pages_render_with_one_labelled_field_per_parameter(admin_client):
    assert admin_client.get(url(FeedConfig, "changelist")).status_code == 200
    assert admin_client.get(url(FeedConfig, "add")).status_code == 200
    response = admin_client.get(url(FeedConfig, "change", home(1).pk))
    assert response.status_code == 200
    form = response.context["adminform"].form
    for p in PARAMS:
        field = form.fields[param_field_name(p)]
        assert field.label
        assert form[param_field_name(p)].value() == p.default
    fieldset_names = [fieldset.name for fieldset in response.context["adminform"]]
    assert len(fieldset_names) == 1 + len(GROUPS)
    html = response.content.decode()
    assert "Quotas (must sum to 1)" in html and "Score weights" in html


def test_editing_a_config_creates_the_next_version_and_moves_the_active_flag(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    v1 = home(1)
    v1_before = model_to_dict(v1)
    data = form_data(admin_client, v1, weights__interest="0.5", note="more interest")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url(FeedConfig, "change", v1.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    v2 = home(2)
    assert v2.is_active and v2.params["weights"]["interest"] == 0.5
    assert v2.note == "more interest" and v2.created_by == admin_user
    assert {k: v for k, v in v2.params.items() if k != "weights"} == {
        k: v for k, v in default_params().items() if k != "weights"
    }
    v1.refresh_from_db()
    assert model_to_dict(v1) == {**v1_before, "is_active": False}
    assert FeedConfig.objects.filter(surface="home", is_active=True).count() == 1
    assert cache.get("feedconfig:version:home") == 2
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Saved home v2 (active). home v1 is kept unchanged, no longer active."
    ]
    # The activation is in the new version's history, with who did it.
    entry = LogEntry.objects.get(object_id=str(v2.pk), content_type__model="feedconfig",
                                 change_message__startswith="Activated")
    assert entry.user == admin_user and entry.get_change_message() == "Activated home v2 (saved as the active version)."


def test_the_config_form_folds_the_expert_groups_and_gives_the_script_the_active_values(admin_client):
    v1 = home(1)
    feed_config_save_version(surface="home", params={**default_params(), "weights": {
        **default_params()["weights"], "interest": 0.6}}, note="", created_by=None, activate=True)
    html = admin_client.get(url(FeedConfig, "change", v1.pk)).content.decode()
    assert "Advanced: Frequency caps and fatigue" in html and "Advanced: Score weights" not in html
    assert html.index("Score weights") < html.index("Advanced:")
    assert 'data-key="weights.interest"' in html and 'data-active="0.6"' in html  # the active v2's value
    assert html.count('data-quota="1"') == 5 and "feed_config_form.js" in html


def test_editing_an_inactive_version_makes_an_inactive_new_version(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        feed_config_save_version(surface="home", params=default_params(), note="", created_by=None, activate=True)
    assert cache.get("feedconfig:version:home") == 2
    v1 = home(1)
    assert not v1.is_active
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url(FeedConfig, "change", v1.pk), form_data(admin_client, v1, caps__cooldown_minutes="45")
        )
    assert response.status_code == 302
    v3 = home(3)
    assert not v3.is_active and v3.params["caps"]["cooldown_minutes"] == 45
    assert home(2).is_active
    assert cache.get("feedconfig:version:home") == 2  # set when v2 was activated; untouched since


def test_saving_without_a_change_creates_no_version(admin_client):
    v1 = home(1)
    response = admin_client.post(url(FeedConfig, "change", v1.pk), form_data(admin_client, v1))
    assert response.status_code == 302
    assert FeedConfig.objects.filter(surface="home").count() == 1
    assert "no new version was created" in str(list(get_messages(response.wsgi_request))[0])


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("weights__interest", "2.5", "Interest must be between 0 and 2; 2.5 is too high."),
        ("caps__max_shows_24h", "0", "Max shows 24h must be between 1 and 50; 0 is too low."),
        ("caps__max_shows_24h", "2.5", "Max shows 24h must be a whole number."),
        ("weights__rising", "", "Rising is required."),
    ],
)
def test_an_out_of_bounds_value_is_refused_with_a_clear_message(admin_client, field, value, message):
    v1 = home(1)
    response = admin_client.post(url(FeedConfig, "change", v1.pk), form_data(admin_client, v1, **{field: value}))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors[field] == [message]
    assert list(form.errors) == [field]  # no misleading follow-up errors (e.g. about quotas)
    assert FeedConfig.objects.count() == 3  # the three default versions, nothing new


def test_quotas_that_do_not_sum_to_one_are_refused_with_a_clear_message(admin_client):
    v1 = home(1)
    data = form_data(admin_client, v1, quotas__personal="0.6")
    response = admin_client.post(url(FeedConfig, "change", v1.pk), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == ["Quotas must sum to 1, they sum to 1.1."]
    assert "Quotas must sum to 1, they sum to 1.1." in response.content.decode()
    assert FeedConfig.objects.filter(surface="home").count() == 1
    assert home(1).is_active


def test_adding_a_config_makes_the_next_version_and_leaves_the_active_one(admin_client):
    data = {param_field_name(p): p.default for p in PARAMS} | {"surface": "category", "note": "draft"}
    response = admin_client.post(url(FeedConfig, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    v2 = FeedConfig.objects.get(surface="category", version=2)
    assert not v2.is_active and v2.note == "draft"
    assert FeedConfig.objects.get(surface="category", version=1).is_active


def test_activate_action_switches_the_active_version(admin_client, django_capture_on_commit_callbacks):
    v2 = feed_config_save_version(surface="home", params=default_params(), note="", created_by=None, activate=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url(FeedConfig, "changelist"), {"action": "activate_selected", "_selected_action": [v2.pk]}
        )
    assert response.status_code == 302
    assert list(FeedConfig.objects.filter(surface="home", is_active=True).values_list("version", flat=True)) == [2]
    assert cache.get("feedconfig:version:home") == 2
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Activated home v2."]


def test_activate_action_refuses_two_versions_of_one_surface(admin_client):
    v2 = feed_config_save_version(surface="home", params=default_params(), note="", created_by=None, activate=False)
    response = admin_client.post(
        url(FeedConfig, "changelist"), {"action": "activate_selected", "_selected_action": [v2.pk, home(1).pk]}
    )
    assert response.status_code == 302
    assert home(1).is_active and not home(2).is_active
    assert "one version per surface" in str(list(get_messages(response.wsgi_request))[0])


def test_a_view_only_user_sees_the_values_and_cannot_save(client, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_feedconfig"))
    client.force_login(viewer)
    v1 = home(1)
    response = client.get(url(FeedConfig, "change", v1.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<td>Cooldown minutes</td><td>30</td>" in html
    assert client.post(url(FeedConfig, "change", v1.pk), {"weights__interest": "1"}).status_code == 403
    assert FeedConfig.objects.filter(surface="home").count() == 1


def test_feed_configs_cannot_be_deleted(admin_client):
    v1 = home(1)
    assert admin_client.post(url(FeedConfig, "delete", v1.pk), {"post": "yes"}).status_code == 403
    assert FeedConfig.objects.filter(pk=v1.pk).exists()


def test_a_cache_that_is_down_does_not_break_saving_or_activating(monkeypatch, django_capture_on_commit_callbacks):
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "set", broken)
    with django_capture_on_commit_callbacks(execute=True):
        v2 = feed_config_save_version(surface="home", params=default_params(), note="", created_by=None, activate=True)
        feed_config_activate(config=home(1))
    assert home(1).is_active and not FeedConfig.objects.get(pk=v2.pk).is_active


def test_save_version_refuses_invalid_params_without_writing():
    params = default_params()
    params["quotas"]["editorial"] = 0.5
    with pytest.raises(Exception, match="quotas must sum to 1"):
        feed_config_save_version(surface="home", params=params, note="", created_by=None, activate=True)
    assert FeedConfig.objects.filter(surface="home").count() == 1 and home(1).is_active


def test_the_form_starts_a_new_surface_from_the_defaults_and_validates_like_the_admin():
    form = FeedConfigForm(data={param_field_name(p): p.default for p in PARAMS} | {"surface": "home"})
    assert form.is_valid(), form.errors
    assert form.cleaned_params == default_params()
    assert form.cleaned_params["caps"]["cooldown_minutes"] == 30 and isinstance(
        form.cleaned_params["caps"]["cooldown_minutes"], int
    )


def test_feed_config_list_filters_by_surface_and_active(admin_client):
    cl = admin_client.get(url(FeedConfig, "changelist"), {"surface__exact": "home"}).context["cl"]
    assert [str(c) for c in cl.result_list] == ["home v1 (active)"]
    cl = admin_client.get(url(FeedConfig, "changelist"), {"is_active__exact": "1"}).context["cl"]
    assert cl.result_count == 3


def test_user_profile_page_links_to_the_users_rows(admin_client, user_state):
    profile = UserProfile.objects.get()
    html = admin_client.get(url(UserProfile, "change", profile.pk)).content.decode()
    assert reverse("admin:personalization_topicaffinity_changelist") + "?q=u%3A7" in html
