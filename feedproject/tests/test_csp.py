"""Every page is served under one strict Content-Security-Policy (django-csp; docs/configuration.md).

That the pages still work under it is checked in a real browser: demo/tests/test_demo_browser.py.
"""
import re

import pytest
from django.contrib.auth.models import User

from markets.tests.factories import MarketFactory

PAGES = ("/", "/markets/some-market", "/admin/login/", "/api/docs/", "/api/markets")


def policy(response):
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (d.split() for d in header.split(";"))}


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_every_page_gets_the_strict_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["form-action"] == ["'self'"]
    # The same as X-Frame-Options: DENY, for the browsers that only read one of the two.
    assert directives["frame-ancestors"] == ["'none'"] and response["X-Frame-Options"] == "DENY"
    for name in ("script-src", "style-src"):
        assert directives[name][0] == "'self'"
        assert all(v.startswith("'nonce-") for v in directives[name][1:]), directives[name]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_a_page_without_inline_blocks_gets_no_nonce(client):
    directives = policy(client.get("/"))
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]


@pytest.mark.django_db
def test_the_docs_page_has_no_inline_script_and_its_inline_style_carries_this_responses_nonce(client):
    first, second = client.get("/api/docs/"), client.get("/api/docs/")
    nonces = []
    for page in (first, second):
        (nonce,) = [v[len("'nonce-"):-1] for v in policy(page)["style-src"] if v.startswith("'nonce-")]
        html = page.content.decode()
        assert f'<style nonce="{nonce}">' in html
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # every script is a file
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    setup = client.get("/api/docs/?script=")
    assert setup.status_code == 200 and setup["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in setup.content


@pytest.mark.django_db
def test_the_admin_pages_have_no_inline_script_or_style(client):
    market = MarketFactory()
    client.force_login(User.objects.create_superuser("editor", password="unused"))
    for path in (
        "/admin/", "/admin/markets/market/", f"/admin/markets/market/{market.pk}/change/",
        "/admin/personalization/feedconfig/preview/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", html) == [], path
        assert "<style" not in html and " style=\"" not in html, path
