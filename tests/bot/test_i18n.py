from babel.messages.mofile import read_mo

from bot.translations import LOCALES_DIR, extract, languages, load, missing_translations


def test_english_catalog_covers_every_string_in_the_code() -> None:
    assert "en" in languages()
    assert len(extract()) > 10
    assert missing_translations("en") == set()


def test_compiled_catalogs_match_their_po_files() -> None:
    for language in languages():
        po = {m.id: m.string for m in load(language) if m.id}
        with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
            mo = {m.id: m.string for m in read_mo(fh) if m.id}
        assert {k: v for k, v in po.items() if v} == {k: v for k, v in mo.items() if v}, (
            f"{language}: run `python -m bot.translations`"
        )
