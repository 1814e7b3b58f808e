"""Where the pages are served, over real HTTP (no browser needed): the device picker, the control
page of each device, the static files, and clear answers for addresses that lead nowhere."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import requests
from server_support import running_server, sim_port

from alpaca_focuser.settings import FocuserSettings


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


class _ButtonTexts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside = 0
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "button":
            self.inside += 1
            self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self.inside -= 1

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.texts[-1] += data


def test_the_not_calibrated_message_names_controls_that_exist():
    url, _ = sim_port(50, uncalibrated=1)
    with running_server([FocuserSettings(port=url)]) as running:
        message = requests.put(running.api("move"), data={"Position": "100"}, timeout=5).json()["ErrorMessage"]
        actions = requests.get(running.api("supportedactions"), timeout=5).json()["Value"]
        parser = _ButtonTexts()
        parser.feed(requests.get(f"{running.url}/control/v1/focuser/0/", timeout=5).text)
        buttons = {text.strip() for text in parser.texts}
        named = re.findall(r"'([^']+)'", message)
        assert named, f"the message names no action or button: {message}"
        for name in named:
            assert name in actions or name in buttons, f"{name!r} in {message!r} is neither an action nor a button of the control page"
        for path in re.findall(r"/control/v1/focuser/\w+/", message):
            assert requests.get(running.url + path.replace("/N/", "/0/"), timeout=5).status_code == 200, path
