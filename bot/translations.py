"""Keep the translation catalogs in step with the code: `python -m bot.translations`.

Extracts every `_()`/`gettext()` string from the code, merges it into each language's .po
(English msgstr = msgid, so the English catalog is always complete), and compiles the .mo
files the bot loads. `missing_translations()` is what the test suite checks.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN, LOCALES_DIR

ROOT = LOCALES_DIR.parent.parent
SOURCE_DIRS = ("bot", "core", "handlers", "scheduler", "providers")
KEYWORDS = {"_": None, "gettext": None, "__": None, "lazy_gettext": None}


def extract() -> set[str]:
    ids: set[str] = set()
    for name in SOURCE_DIRS:
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / name, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            ids.add(message if isinstance(message, str) else message[0])
    return ids


def _po_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> list[str]:
    return sorted(p.name for p in LOCALES_DIR.iterdir() if _po_path(p.name).exists())


def load(language: str) -> Catalog:
    with _po_path(language).open("rb") as fh:
        return read_po(fh, locale=language)


def missing_translations(language: str) -> set[str]:
    catalog = load(language)
    return {mid for mid in extract() if not (catalog.get(mid) and catalog.get(mid).string)}


def sync() -> None:
    ids = extract()
    for language in languages():
        old = load(language)
        # Dates kept from the old catalog: re-running without changes leaves no diff.
        new = Catalog(
            locale=language,
            domain=DOMAIN,
            project="smm-storefront-bot",
            creation_date=old.creation_date,
            revision_date=old.revision_date,
        )
        for mid in sorted(ids):
            previous = old.get(mid)
            text = previous.string if previous and previous.string else ""
            new.add(mid, mid if language == "en" else text)
        with _po_path(language).open("wb") as fh:
            write_po(fh, new, width=100, omit_header=False, sort_output=True)
        with _po_path(language).with_suffix(".mo").open("wb") as fh:
            write_mo(fh, new)
        untranslated = sum(1 for m in new if m.id and not m.string)
        print(f"{language}: {len(ids)} messages, {untranslated} untranslated")


if __name__ == "__main__":
    sync()
