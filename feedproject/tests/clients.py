"""API clients for tests: a service or backend calling with a DRF token."""
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def token_header(username, *permissions):
    """The Authorization header of a new user `username` who holds the given permission codenames."""
    user = User.objects.create_user(username)
    user.user_permissions.add(*(Permission.objects.get(codename=codename) for codename in permissions))
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


def token_client(username, *permissions):
    """An APIClient sending the token of a new user `username` who holds the given permission codenames."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=token_header(username, *permissions)["Authorization"])
    return client
