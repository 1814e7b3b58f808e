"""Where the pages are served, over real HTTP (no browser needed): the device picker, the control
page of each device, the static files, and clear answers for addresses that lead nowhere."""

from __future__ import annotations

import requests
from server_support import running_server


def test_one_focuser_goes_straight_to_its_control_page():
    with running_server() as running:
        answer = requests.get(f"{running.url}/control", allow_redirects=False, timeout=5)
        assert answer.status_code == 303
        assert answer.headers["Location"].endswith("/control/v1/focuser/0/")
        page = requests.get(f"{running.url}/control/v1/focuser/0/", timeout=5)
        assert page.status_code == 200
        assert page.headers["Content-Type"].startswith("text/html")
        assert '<meta name="viewport"' in page.text
        assert "/web/control.js" in page.text
        assert "http://" not in page.text and "https://" not in page.text, "nothing is fetched from the internet"
        without_slash = requests.get(f"{running.url}/control/v1/focuser/0", allow_redirects=False, timeout=5)
        assert without_slash.headers["Location"].endswith("/control/v1/focuser/0/")


def test_several_focusers_get_a_picker_linking_each_control_page():
    with running_server(focusers=2) as running:
        picker = requests.get(f"{running.url}/control", timeout=5)
        assert picker.status_code == 200
        assert '<meta name="viewport"' in picker.text
        for number in (0, 1):
            assert f'href="/control/v1/focuser/{number}/"' in picker.text
            assert f"Test Focuser {number}" in picker.text
            assert requests.get(f"{running.url}/control/v1/focuser/{number}/", timeout=5).status_code == 200


def test_the_setup_pages_link_the_control_page_and_the_settings_form():
    with running_server() as running:
        overview = requests.get(f"{running.url}/setup", timeout=5).text
        assert '<meta name="viewport"' in overview
        assert 'href="/control/v1/focuser/0/"' in overview
        assert 'href="/setup/v1/focuser/0/setup"' in overview
        form = requests.get(f"{running.url}/setup/v1/focuser/0/setup", timeout=5).text
        assert 'id="settings-form"' in form
        assert 'href="/control/v1/focuser/0/"' in form


def test_the_static_files_are_served_with_their_types():
    with running_server() as running:
        for name, kind in (("control.js", "text/javascript"), ("alpaca.js", "text/javascript"), ("style.css", "text/css"), ("settings.js", "text/javascript")):
            answer = requests.get(f"{running.url}/web/{name}", timeout=5)
            assert answer.status_code == 200, name
            assert answer.headers["Content-Type"].startswith(kind), name


def test_addresses_that_lead_nowhere_say_where_to_go():
    with running_server() as running:
        for path in ("/control/v1/focuser/7/", "/control/v1/focuser/x/", "/control/v1/camera/0/"):
            answer = requests.get(running.url + path, timeout=5)
            assert answer.status_code == 404, path
            assert 'href="/control"' in answer.text, path
        for name in ("nothing.js", ".hidden"):
            answer = requests.get(f"{running.url}/web/{name}", timeout=5)
            assert answer.status_code == 404, name
            assert "/control" in answer.text, name
        for name in ("..%2Fconfig.py", "%2E%2E%2F__init__.py"):
            assert requests.get(f"{running.url}/web/{name}", timeout=5).status_code == 404, name
        traversal = requests.get(f"{running.url}/web/../alpaca/control.py", timeout=5)
        assert traversal.status_code == 404
        assert "import" not in traversal.text
