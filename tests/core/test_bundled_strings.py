"""The tray's own English strings (`core/strings_en.py`), generated from the bundled texts."""

from __future__ import annotations

from stethoscope_desktop.core import strings_en
from stethoscope_desktop.core.instructions import STRING_KEYS, string_name
from stethoscope_desktop.core.strings import ENGLISH
from stethoscope_desktop.core.strings_gen import TARGET, english_strings, generate


def test_the_committed_table_is_what_make_strings_writes() -> None:
    assert TARGET.read_text(encoding="utf-8") == generate(english_strings()), (
        "core/strings_en.py differs from practices/instructions.en.yaml: run `make strings`"
    )


def test_the_table_has_every_ui_string_in_english() -> None:
    assert {string_name(key) for key in strings_en.STRINGS} == set(STRING_KEYS)
    assert ENGLISH.language == "en" and ENGLISH.strings is strings_en.STRINGS
    assert ENGLISH.string("checkAgain") == "Check again"
    assert ENGLISH.string("checkFailed", reason=ENGLISH.string("failedNotStarted")) == (
        "Couldn't check this computer: the checker could not start."
    )


def test_the_generated_source_reads_back_as_the_table_whatever_the_texts() -> None:
    table = {
        "plain": "Check again",
        "apostrophe": "Couldn't check: {{reason}}",
        "double": 'Press "Open"',
        "both": 'it\'s "this"',
        "backslash": "C:\\ProgramData\\stethoscope",
        "newline": "one\ntwo",
        "unicode": "Wird geprüft …",
    }
    namespace: dict[str, object] = {}
    exec(compile(generate(table), "strings_en.py", "exec"), namespace)
    assert namespace["STRINGS"] == table
    assert list(namespace["STRINGS"]) == list(table), "in the file's order"
