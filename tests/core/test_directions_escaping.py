"""Values filled into directions (an app name, a version) show as written, never as Markdown.

Directions are Markdown; a value from IT's policy or from the machine that held `[x](url)`,
`<img>` or `**` would otherwise become a link, an image or emphasis. IT's `installFrom` is
Markdown by definition and stays so.
"""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.strings import escape_markdown, render_markdown
from stethoscope_desktop.ui.cards import directions_label
from tests.core.test_evaluate_facts import TEXTS, facts, found, policy

NAME = "<b>[Zoom](https://evil.example/)</b> *x*"


def test_escaping_shows_every_character_as_written_and_links_nothing(qtbot: QtBot) -> None:
    text = "a [b](c) <d> *e* `f` & \\ www.evil.example https://evil.example/ a@b.example 1:9.2p1"
    escaped = escape_markdown(text)
    assert escaped.startswith("a \\[b\\](c) \\<d\\> \\*e\\*")
    label = directions_label(escaped, lambda link: None)
    qtbot.addWidget(label)
    assert "href" not in label.text()
    assert "www.evil.example https://evil.example/ a@b.example 1:9.2p1" in label.text()
    assert escape_markdown("Debian GNU/Linux 13.0.0: CrowdStrike, Carbon Black.") == (
        "Debian GNU/Linux 13.0.0: CrowdStrike, Carbon Black."
    )  # ordinary text stays as it is
    filled = render_markdown(
        "{{name}} from {{installFrom}}",
        {"name": "[n](u)", "installFrom": "[Portal](https://it.example/)"},
        frozenset({"installFrom"}),
    )
    assert filled == "\\[n\\](u) from [Portal](https://it.example/)"


def test_an_app_name_with_markdown_does_not_become_a_link_in_its_directions(qtbot: QtBot) -> None:
    rule = {"name": NAME, "assertion": "SUGGESTED", "installFrom": "[Portal](https://it.example/)"}
    report = evaluate(
        policy({"applications": [rule]}), facts({"applications": found("applications")}), TEXTS
    )
    app = next(p for p in report.practices if p.key.startswith("applications/"))
    assert app.status is Status.NUDGE and app.directions
    assert "https://evil.example/" not in [link.url for link in app.links]
    assert "https://it.example/" in [link.url for link in app.links]
    label = directions_label(app.directions, lambda link: None)
    qtbot.addWidget(label)
    assert 'href="https://evil.example/"' not in label.text()
    assert 'href="https://it.example/"' in label.text()
    assert (
        "<b>" not in label.text()
        and "&lt;b&gt;[Zoom](https://evil.example/)&lt;/b&gt;" in label.text()
    )
