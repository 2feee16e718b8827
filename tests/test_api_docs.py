"""The API docs work without internet: Swagger UI comes from our own static files."""

import re

from django.contrib.staticfiles import finders


def test_api_docs_page_loads_swagger_ui_from_this_site(client, db):
    response = client.get("/api/docs")

    assert response.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', response.content.decode())
    assert assets, "the docs page names no script or stylesheet"
    assert all(not a.startswith(("http://", "https://", "//")) for a in assets), assets
    for asset in assets:
        path = asset.split("?")[0].removeprefix("/static/")
        assert finders.find(path), f"{asset} is not among the static files"
