"""Admin login resists brute force: after a few wrong passwords even the right one is refused for a while."""
import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db
PASSWORD = "the-right-password-1"


@pytest.fixture
def editor(django_user_model):
    return django_user_model.objects.create_user("editor", password=PASSWORD, is_staff=True, is_superuser=True)


def _login(client, password, username="editor"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_the_right_password_logs_in(editor):
    client = Client()
    assert _login(client, PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_after_the_failure_limit_the_right_password_is_refused_too(editor):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "wrong").status_code == 200  # the form again, with its error
    assert _login(client, "wrong").status_code == 429  # the limit-th failure locks
    locked = _login(client, PASSWORD)
    assert locked.status_code == 429
    assert client.get("/admin/").status_code == 302  # still not logged in: back to the login page


def test_guessing_one_username_from_many_addresses_locks_that_username(editor):
    for k in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(REMOTE_ADDR=f"198.51.100.{k + 1}"), "wrong")
    assert _login(Client(REMOTE_ADDR="192.0.2.200"), PASSWORD).status_code == 429
