"""The server's own words to the browser, in the language of the operator's page.

Errors are written in English, and logs and audit rows keep them that way.
Each text the panel may show is marked with ``gettext_noop`` where it is
written, so it is in the catalogue. A text with values in it travels as its
English ``message`` plus ``template`` and ``params``, so the socket can
translate the template and fill in the values. :func:`localize` does that
for every error a socket sends, in the language :func:`language_for` picked
for it, and drops ``template`` and ``params``. Asterisk's own words
(``pbx_error``) are in no catalogue and pass through as they are.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext


def error_fields(template: str, params: dict | None = None) -> dict:
    """``message`` (English, values filled in), with ``template``/``params`` when there are values."""
    if not params:
        return {"message": template}
    return {"message": template % params, "template": template, "params": dict(params)}


def language_for(scope: dict) -> str:
    """The socket's language: the page's (``?lang=``), else the language cookie, else Accept-Language."""
    known = {code for code, _name in settings.LANGUAGES}
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    wanted = (query.get("lang") or [""])[0]
    if wanted in known:
        return wanted
    headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", [])}
    cookies = scope.get("cookies") or {}
    candidates = [cookies.get(settings.LANGUAGE_COOKIE_NAME, "")]
    candidates += [
        code for code, _q in translation.trans_real.parse_accept_lang_header(headers.get("accept-language", ""))
    ]
    for code in candidates:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def _translated(fields: dict) -> str | None:
    template, params = fields.get("template"), fields.get("params")
    message = fields.get("message")
    if isinstance(template, str) and template and isinstance(params, dict):
        try:
            return gettext(template) % params
        except (KeyError, TypeError, ValueError):
            return message  # a translation that does not fit its values: the English text
    return gettext(message) if isinstance(message, str) and message else message


def localize(content: dict, language: str) -> dict:
    """``content`` to send, with the text of its error (an ``error`` message, a failed ``result``) translated."""
    if content.get("type") == "error":
        target = content = dict(content)
    elif content.get("type") == "result" and isinstance(content.get("error"), dict):
        content = dict(content)
        target = content["error"] = dict(content["error"])
    else:
        return content
    with translation.override(language):
        target["message"] = _translated(target)
    target.pop("template", None)
    target.pop("params", None)
    return content
