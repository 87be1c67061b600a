"""Admin pages declare the site's empty icon, so browsers do not ask for /favicon.ico."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/admin/", "/admin/auth/user/", "/admin/connector/connectorstatus/"])
def test_admin_pages_declare_the_empty_icon_and_keep_their_header(client, dave, url):
    client.force_login(dave)
    html = client.get(url).content.decode()
    assert '<link rel="icon" href="data:,">' in html
    assert "Call centre administration" in html  # the admin's own base_site (branding) is still used
