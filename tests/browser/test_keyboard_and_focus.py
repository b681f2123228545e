"""What a keyboard user meets: a skip link, where they are in the menu, a focus ring they can
see on every background, and dialogs that put them in their first field."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.data import rule_data
from tests.factories import PASSWORD, MetricFactory, TrainedModelFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

# WCAG 2.2 (2.4.13, focus appearance): the ring contrasts 3:1 with what is next to it.
FOCUS_CONTRAST = 3.0
RGB = re.compile(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)")


def relative_luminance(colour: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in colour)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(one: tuple[int, int, int], other: tuple[int, int, int]) -> float:
    lighter, darker = sorted((relative_luminance(one), relative_luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def opaque_colours(css: str) -> list[tuple[int, int, int]]:
    """The opaque colours named in a computed CSS value (a faint glow does not count)."""
    return [(int(r), int(g), int(b)) for r, g, b, alpha in RGB.findall(css) if alpha == "" or float(alpha) >= 0.99]


def ring_colours(element: Locator) -> list[tuple[int, int, int]]:
    """The colours of the focus ring drawn around `element`: its outline (when at least 2 px
    wide) and the solid box shadows around it (at least 2 px spread)."""
    # Bootstrap's buttons fade their shadow in over 0.15 s: read it once it is drawn.
    element.page.wait_for_timeout(300)
    style = element.evaluate(
        """element => {
            const style = getComputedStyle(element);
            return {outline: style.outlineStyle === "none" || parseFloat(style.outlineWidth) < 2
                        ? "" : style.outlineColor,
                    shadow: style.boxShadow};
        }"""
    )
    solid_ring = re.compile(r"0px 0px 0px ([2-9]|\d\d)")
    shadows = [shadow for shadow in re.split(r",(?![^(]*\))", style["shadow"]) if solid_ring.search(shadow)]
    return opaque_colours(style["outline"]) + opaque_colours(" ".join(shadows))


def background_of(element: Locator) -> tuple[int, int, int]:
    """The first opaque background at or behind `element` (a gradient counts by its first colour)."""
    css = element.evaluate(
        """element => {
            for (let node = element; node; node = node.parentElement) {
                const style = getComputedStyle(node);
                const gradient = style.backgroundImage.match(/rgba?\\([^)]*\\)/);
                if (gradient) return gradient[0];
                if (!/rgba\\(0, 0, 0, 0\\)|transparent/.test(style.backgroundColor)) return style.backgroundColor;
            }
            return "rgb(255, 255, 255)";
        }"""
    )
    (colour,) = opaque_colours(css)
    return colour


def focus_by_keyboard(page: Page, target: Locator, presses: int = 40) -> None:
    page.locator("body").focus()
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{target} was not reached with the Tab key")


def log_in(page: Page, live_server, username: str) -> None:
    page.goto(live_server.url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text(f"Good to see you, {username}!")).to_be_visible()


def test_the_first_tab_reaches_a_visible_skip_link_that_jumps_to_the_page_content(page: Page, live_server) -> None:
    UserFactory.create(username="owner")
    log_in(page, live_server, "owner")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    box = skip.bounding_box()
    assert box is not None
    assert box["width"] > 20
    assert box["height"] > 10

    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    # The next stop is in the page's content, past the whole menu bar.
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")


def test_the_menu_marks_the_page_the_user_is_on(page: Page, live_server) -> None:
    UserFactory.create(username="owner")
    log_in(page, live_server, "owner")

    menu = page.get_by_role("navigation").first
    page.goto(live_server.url + "/gates/")
    expect(menu.get_by_role("link", name="Gates")).to_have_attribute("aria-current", "page")
    expect(menu.locator("[aria-current]")).to_have_count(1)
    page.goto(live_server.url + "/jobs/")
    expect(menu.get_by_role("link", name="Jobs")).to_have_attribute("aria-current", "page")
    expect(menu.locator("[aria-current]")).to_have_count(1)


def test_the_focus_ring_contrasts_with_the_dark_menu_bar(page: Page, live_server) -> None:
    UserFactory.create(username="owner")
    log_in(page, live_server, "owner")

    for control in (page.get_by_role("link", name="Gates"), page.get_by_label("Language")):
        focus_by_keyboard(page, control)
        around = background_of(page.locator("nav.navbar"))
        assert max((contrast(ring, around) for ring in ring_colours(control)), default=0) >= FOCUS_CONTRAST, control


def test_the_focus_ring_of_the_yellow_button_contrasts_with_it_and_with_the_page(page: Page, live_server) -> None:
    owner = UserFactory.create(username="owner")
    metric = MetricFactory.create(owner=owner, name="Error rate")
    metric.import_indicators(rule_data(60), owner)
    TrainedModelFactory.create(metric=metric)
    metric.import_indicators(rule_data(5, seed=1), owner)  # new data: the Train button shows
    log_in(page, live_server, "owner")
    page.goto(live_server.url + metric.get_absolute_url())

    train = page.get_by_role("button", name="Train", exact=True)
    focus_by_keyboard(page, train)
    button = background_of(train)
    page_background = background_of(page.locator("main"))
    rings = ring_colours(train)
    assert any(
        contrast(ring, button) >= FOCUS_CONTRAST and contrast(ring, page_background) >= FOCUS_CONTRAST for ring in rings
    ), rings


def test_the_create_metric_dialog_puts_the_keyboard_in_its_name_field(page: Page, live_server) -> None:
    UserFactory.create(username="owner")
    log_in(page, live_server, "owner")

    focus_by_keyboard(page, page.get_by_role("link", name="Create metric"))
    page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog", name="Create a new metric")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Name")).to_be_focused()
    page.keyboard.type("Checkout errors")
    expect(dialog.get_by_label("Name")).to_have_value("Checkout errors")
