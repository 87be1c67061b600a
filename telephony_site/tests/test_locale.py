"""The Russian catalogue is complete and the committed .mo matches the .po (CI has no gettext)."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
PO = BASE_DIR / "locale" / "ru" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def read_po(path: Path) -> list[dict]:
    """Entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (by index) and flags."""
    entries: list[dict] = []
    entry: dict | None = None
    key = None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if entry:
                entries.append(entry)
            entry = None
            continue
        if entry is None:
            entry = {"ctxt": None, "id": "", "plural": None, "str": {}, "flags": ""}
        if line.startswith("#,"):
            entry["flags"] += line
            continue
        if line.startswith("#"):
            continue
        match = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d)\])?) (\".*\")$", line)
        if match:
            word, index, text = match.groups()
            key = {"msgctxt": "ctxt", "msgid": "id", "msgid_plural": "plural"}.get(word, ("str", int(index or 0)))
            value = ast.literal_eval(text)
        else:
            value = ast.literal_eval(line)
        if isinstance(key, tuple):
            entry["str"][key[1]] = entry["str"].get(key[1], "") + value
        else:
            entry[key] = (entry[key] or "") + value
    return entries


def test_every_message_has_a_russian_translation():
    entries = [e for e in read_po(PO) if e["id"]]
    assert len(entries) > 100
    untranslated = [e["id"] for e in entries if not all(e["str"].values()) or not e["str"]]
    fuzzy = [e["id"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []


def test_placeholders_survive_translation():
    for entry in read_po(PO):
        wanted = set(re.findall(r"%\(\w+\)[sd]", entry["id"] + (entry["plural"] or "")))
        for text in entry["str"].values():
            assert set(re.findall(r"%\(\w+\)[sd]", text)) <= wanted, entry["id"]
            if entry["plural"] is None:
                assert set(re.findall(r"%\(\w+\)[sd]", text)) == wanted, entry["id"]


def test_compiled_catalogue_matches_the_source():
    with MO.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    for entry in read_po(PO):
        if not entry["id"]:
            continue
        if entry["plural"] is not None:
            for n, index in ((1, 0), (3, 1), (5, 2)):
                got = (
                    catalogue.npgettext(entry["ctxt"], entry["id"], entry["plural"], n)
                    if entry["ctxt"]
                    else (catalogue.ngettext(entry["id"], entry["plural"], n))
                )
                assert got == entry["str"][index], entry["id"]
        elif entry["ctxt"]:
            assert catalogue.pgettext(entry["ctxt"], entry["id"]) == entry["str"][0], entry["id"]
        else:
            assert catalogue.gettext(entry["id"]) == entry["str"][0], entry["id"]
