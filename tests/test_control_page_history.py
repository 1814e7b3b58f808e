"""The control page's move history in a real browser (headless Chromium): a move the page sends and
one made with the hand controller appear, newest first, with why, who and how they ended."""

from __future__ import annotations

from browser_support import chromium_fixture, desktop_page_fixture, expect  # noqa: F401
from test_control_page import focuser_server, lands_at, open_control


def test_the_page_lists_its_own_move_and_a_hand_controller_move(desktop_page):
    page = desktop_page
    with focuser_server(time_scale=50) as running:
        open_control(page, running)
        expect(page.locator("#history-empty")).to_be_visible()
        page.fill("#goto", "21000")
        page.click("#goto-form button[type=submit]")
        lands_at(running, 21000)
        first = page.locator("#history-body tr").first
        expect(first).to_have_attribute("data-ended", "landed")
        expect(first.locator("td").nth(1)).to_have_text("client Move")
        expect(first.locator("td").nth(2)).to_contain_text("(this page)")
        expect(first.locator("td").nth(4)).to_have_text("21000")

        running.motor().external_move(running.motor().position + 500)  # someone presses the hand controller's buttons
        expect(first).to_have_attribute("data-reason", "external")
        expect(first).to_have_attribute("data-ended", "landed")
        expect(first.locator("td").nth(1)).to_have_text("hand controller")
        expect(first.locator("td").nth(4)).to_have_text("21500")
        expect(page.locator("#history-body tr")).to_have_count(2)
        expect(page.locator("#history-error")).to_have_text("")
