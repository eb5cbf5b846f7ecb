"""Where sign-in goes next (``accounts.redirects.safe_next``), with Hypothesis: a path of this
site or nothing, whatever ``next=`` holds."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from safer_streets.accounts.redirects import safe_next

# ---- Where to go after signing in ------------------------------------------------------------

path_text = st.text(
    st.characters(whitelist_categories=("Ll", "Lu", "Nd"), max_codepoint=0x7F)
    | st.sampled_from("-_./?=&%~"),
    max_size=40,
)


@given(st.text(max_size=60))
@example("/triage\r\nX-Injected: 1")
@example("//evil.example/")
@example("/\\evil.example")
@example("/\t/evil.example")
@example("https://evil.example/triage")
@example("javascript:alert(1)")
@example("triage")
@example("/triage\u2028")
@example("/caf\u00e9?q=a b")
def test_next_is_a_path_on_this_site_or_nothing(target):
    path = safe_next(target)
    if path is None:
        return
    assert path.startswith("/") and not path.startswith("//")
    assert "\\" not in path
    assert all(0x21 <= ord(char) <= 0x7E for char in path), "no controls, spaces or CR/LF"
    parts = urlsplit(path)
    assert not parts.scheme and not parts.netloc


@given(path_text)
def test_an_ordinary_path_of_this_site_is_kept_as_it_is(tail):
    target = "/" + tail.lstrip("/")
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        "/triage\r\nX-Injected: 1",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/\t/evil.example",
        "triage",
        "",
        None,
    ],
)
def test_other_sites_and_control_characters_are_not_followed(target):
    assert safe_next(target) is None
