"""The pseudo-locale's translation: readable, longer, and harmless to placeholders and markup."""

from __future__ import annotations

import io

from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import write_po
from hypothesis import assume, given
from hypothesis import strategies as st

from safer_streets import pseudo_locale
from safer_streets.pseudo_locale import ACCENTED, PAD, protected_parts, pseudo, unpseudo

PLACEHOLDERS = st.sampled_from(
    ["%(name)s", "%(count)d", "%s", "%d", "%%", "%.1f", "{name}", "{0}", "<a href=\"/x\">",
     "</a>", "<strong>", "<br/>", "&amp;", "&nbsp;", "&#8217;", "&#x2019;"]
)  # fmt: skip
# English-like text with placeholders and markup mixed in, and the odd stray "%", "{", "<", "&".
MESSAGES = st.lists(
    st.one_of(st.text(max_size=12), PLACEHOLDERS, st.sampled_from(["%", "{", "}", "<", ">", "&"]))
).map("".join)


@given(MESSAGES)
def test_placeholders_tags_and_entities_are_kept_in_order(text):
    assert protected_parts(pseudo(text)) == protected_parts(text)


@given(MESSAGES)
def test_a_message_grows_by_at_least_three_tenths(text):
    assert len(pseudo(text)) >= 1.3 * len(text)


@given(MESSAGES)
def test_stripping_the_pseudo_translation_gives_back_the_english(text):
    # Source messages are English: one already holding the accented letters cannot be told apart.
    assume(not set(text) & set(ACCENTED))
    assert unpseudo(pseudo(text)) == text


@given(MESSAGES)
def test_no_ascii_letter_is_left_outside_placeholders_and_markup(text):
    outside = pseudo_locale.PROTECTED.sub("", pseudo(text))
    assert not any("a" <= c.lower() <= "z" for c in outside)


def test_a_message_reads_as_accented_english_in_brackets():
    assert pseudo("Report a problem") == f"[Ŕéƥöŕţ á ƥŕöƀļéɱ {PAD * 2}]"
    assert pseudo("Sent to %(partner)s").startswith("[Šéñţ ţö %(partner)s ")
    assert pseudo("") == ""


def test_the_catalogue_translates_every_message_and_plural_form():
    template = Catalog()
    template.add("Leave this site")
    template.add(("%(num)d report", "%(num)d reports"))
    pot = io.BytesIO()
    write_po(pot, template)
    compiled = read_mo(io.BytesIO(pseudo_locale.catalogue(pot.getvalue())))
    assert compiled.get("Leave this site").string == pseudo("Leave this site")
    plural = compiled.get(("%(num)d report", "%(num)d reports"))
    assert tuple(plural.string) == (pseudo("%(num)d report"), pseudo("%(num)d reports"))


def test_the_catalogue_is_written_once_per_template(tmp_path):
    pot = tmp_path / "messages.pot"
    pot.write_bytes(b'msgid "Track"\nmsgstr ""\n')
    first = pseudo_locale.write_catalogue(pot, tmp_path / "cache")
    assert (first / "en_001" / "LC_MESSAGES" / "messages.mo").is_file()
    assert pseudo_locale.write_catalogue(pot, tmp_path / "cache") == first
    pot.write_bytes(b'msgid "Report"\nmsgstr ""\n')
    assert pseudo_locale.write_catalogue(pot, tmp_path / "cache") != first


def test_a_long_message_can_wrap_inside_its_padding():
    padded = pseudo("word " * 60)
    assert padded.endswith("·]") and "·····" in padded
    assert "······" not in padded  # groups of five, each a word the line can break after
