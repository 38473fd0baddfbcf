"""Vietnamese first, English on request (Flask-Babel).

The message ids are the Vietnamese texts themselves, so the app reads correctly in
Vietnamese even without any catalogue; ``translations/en`` holds the English. The
compiled ``.mo`` ships beside its ``.po`` (a test checks they agree and that every
string in the templates and views is translated). To update after changing texts::

    python -m web.i18n update     # extract, merge into the .po (then translate what it lists)
    python -m web.i18n compile    # .po -> .mo

The language comes from ``?lang=vi|en`` (remembered in a cookie), else the cookie,
else Vietnamese: the browser's language is not asked, because the owners' phones are
often set to English while they read Vietnamese.
"""
from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, request
from flask_babel import Babel, get_locale, get_translations
from jinja2 import BaseLoader
from markupsafe import Markup

from market40 import formats

__all__ = ["init_app", "current_language", "localtime", "N_", "TRANSLATIONS", "render_translated",
           "translate_source", "resolve_urls"]

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANG_COOKIE = "lang"


def N_(text: str) -> str:
    """Marks ``text`` for translation where it is defined; it is translated where it is shown."""
    return text


def _select_locale() -> Any:
    languages = current_app.config["LANGUAGES"]
    asked = request.args.get("lang") if request.query_string else None  # no query: no arguments to parse
    if asked in languages:
        g.set_lang = asked
        return _locale(asked)
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in languages:
        return _locale(cookie)
    return _locale(current_app.config["BABEL_DEFAULT_LOCALE"])


_LOCALES: dict[str, Any] = {}


def _locale(code: str) -> Any:
    """``code`` (one of the configured languages) as Babel's Locale, parsed once: Flask-Babel parses what the
    selector returns on every request, and takes a Locale as it is."""
    found = _LOCALES.get(code)
    if found is None:
        from babel import Locale
        found = _LOCALES[code] = Locale.parse(code)
    return found


def current_language() -> str:
    """The request's language (``vi``, ``en``), looked up once per request (a page asks several times)."""
    from flask import has_app_context
    if not has_app_context():
        return str(get_locale() or "vi")
    found = g.get("_language")
    if found is None:
        found = g._language = str(get_locale() or "vi")
    return found


def localtime(value: datetime | None, fmt: str | None = None) -> str:
    """A UTC timestamp in Vietnam time, in the page's language (market40.formats, the one rule):
    ``22/11/2025 14:05`` / ``2025-11-22 14:05``; ``"%d/%m/%Y"`` gives the date alone the same way;
    any other ``fmt`` (``"%H:%M"``) is used as given."""
    if value is None:
        return ""
    lang = current_language()
    if fmt is None:
        return formats.when(value, lang)
    if fmt == "%d/%m/%Y":
        return formats.day(formats.to_vietnam(value).date(), lang)
    return formats.to_vietnam(value).strftime(fmt)


def _remember_language(response: Any) -> Any:
    chosen = g.get("set_lang")
    if chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                            secure=bool(request.is_secure))
    return response


def _translations() -> Any:
    """The request's catalogue, looked up once per request (templates call gettext dozens of times)."""
    found = g.get("_translations")
    if found is None:
        found = g._translations = get_translations()
    return found


def _template_gettext(text: str, **variables: Any) -> Markup:
    translated = Markup(_translations().ugettext(text))
    return translated % variables if variables else translated


#: Each catalogue's template strings, translated once: catalogue -> {message id: trusted Markup}. A page asks
#: for the same few dozen strings on every render; the dict is dropped whole if it ever grows past the cap.
_TRANSLATED: dict[Any, dict[str, Markup]] = {}
_TRANSLATED_CAP = 20_000


def _bound_gettext() -> Any:
    """The request's ``_``/``gettext`` for templates: a dict look-up per string instead of a catalogue call.

    Bound once per render (see :func:`init_app`), so no request-context look-up per string;
    the same Markup as :func:`_template_gettext` (placeholder values escaped by Markup's ``%``).
    """
    translations = _translations()
    table = _TRANSLATED.get(translations)
    if table is None:
        if len(_TRANSLATED) > 16:
            _TRANSLATED.clear()
        table = _TRANSLATED[translations] = {}
    ugettext = translations.ugettext

    def gettext(text: str, **variables: Any) -> Markup:
        found = table.get(text)
        if found is None:
            if len(table) > _TRANSLATED_CAP:
                table.clear()
            found = table[text] = Markup(ugettext(text))
        return found % variables if variables else found
    return gettext


def _template_ngettext(singular: str, plural: str, num: int, **variables: Any) -> Markup:
    translated = Markup(_translations().ungettext(singular, plural, num))
    return translated % {"num": num, **variables}


# ------------------------------------------------------------------ templates translated once per language

#: ``_("text")`` or ``_('text')`` called with a lone literal (no placeholders, no escapes in the literal).
_LITERAL_CALL = re.compile(r"""\b_\((?:"([^"\\{}%]*)"|'([^'\\{}%]*)')\)""")
#: ``{{ _("text") }}`` as a whole output expression (no whitespace control).
_LITERAL_OUTPUT = re.compile(r"""\{\{\s*_\((?:"([^"\\{}%]*)"|'([^'\\{}%]*)')\)\s*\}\}""")
#: The prefix of a template translated for one language: ``@en/owner/status.html``.
_LANGUAGE_NAME = re.compile(r"@([a-z]{2,3})/(.+)")


#: ``url_for('endpoint')`` or ``url_for('endpoint', name='value', ...)`` with literal strings only.
_URL_CALL = re.compile(r"""\burl_for\(\s*(['"])([\w.]+)\1((?:\s*,\s*\w+\s*=\s*(['"])[\w./-]*\4)*)\s*\)""")
_URL_ARGUMENT = re.compile(r"""(\w+)\s*=\s*['"]([\w./-]*)['"]""")


def resolve_urls(source: str, url_for: Any) -> str:
    """``source`` with its constant ``url_for(...)`` calls replaced by the link they build (a string
    constant, escaped on output exactly as ``url_for``'s answer is); a call that fails is left to run."""
    def constant(match: re.Match[str]) -> str:
        try:
            url = url_for(match.group(2), **dict(_URL_ARGUMENT.findall(match.group(3))))
        except Exception:  # noqa: BLE001 - an unknown endpoint fails where it runs, as before
            return match.group(0)
        if not isinstance(url, str) or any(char in url for char in "\"\\\n{}%#"):
            return match.group(0)
        return f'"{url}"'
    return _URL_CALL.sub(constant, source)


def translate_source(source: str, translate: Any) -> str:
    """A template's source with its literal ``_("...")`` calls replaced by ``translate(text)``.

    ``{{ _("text") }}`` becomes the translated text itself (trusted markup, as ``_`` returns it, so
    nothing is escaped either way), other literal calls inside expressions a safe string constant;
    calls with placeholders or escapes are left to run. Jinja's own syntax inside a translation is
    kept literal (``{% raw %}``).
    """
    def output(match: re.Match[str]) -> str:
        text = translate(match.group(1) if match.group(1) is not None else match.group(2))
        if any(mark in text for mark in ("{{", "{%", "{#", "%}", "}}", "#}")):
            return "{% raw %}" + text + "{% endraw %}"
        return text

    def constant(match: re.Match[str]) -> str:
        text = translate(match.group(1) if match.group(1) is not None else match.group(2))
        return '("' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"|safe)'

    return _LITERAL_CALL.sub(constant, _LITERAL_OUTPUT.sub(output, source))


class LanguageLoader(BaseLoader):
    """Serves ``@<lang>/<name>`` as ``<name>`` with its literal translations done (:func:`translate_source`).

    Jinja compiles and caches each language's template once, so a page rendered through
    :func:`render_translated` makes no translation call for its constant texts. Templates it
    extends, includes or imports are taken in the same language (see :func:`_join_path`).
    """

    def __init__(self, loader: BaseLoader) -> None:
        self.loader = loader

    def get_source(self, environment: Any, template: str) -> tuple[str, str | None, Any]:
        found = _LANGUAGE_NAME.fullmatch(template)
        if found is None:
            return self.loader.get_source(environment, template)
        language, name = found.groups()
        source, filename, uptodate = self.loader.get_source(environment, name)
        translate = _catalogue(language)
        if translate is None:
            return source, filename, uptodate
        # served only to requests in this language (render_translated): its language is a constant here
        source = translate_source(source, translate).replace("current_language()", f'"{language}"')
        from flask import request, url_for
        if not request.script_root:  # links depend on the mount point: built here only at the root
            source = resolve_urls(source, url_for)
        return source, filename, uptodate

    def list_templates(self) -> list[str]:
        return self.loader.list_templates()


def _catalogue(language: str) -> Any:
    """``text -> translation`` in ``language``: the catalogue of this request, which asked for that language
    (:func:`render_translated`); else None (the template is then served as written, translated as it runs)."""
    from flask import has_request_context
    if not has_request_context() or current_language() != language:
        return None
    return _translations().ugettext


def _join_path(environment: Any) -> Any:
    def join_path(template: str, parent: str) -> str:
        found = _LANGUAGE_NAME.fullmatch(parent)
        if found is not None and not _LANGUAGE_NAME.fullmatch(template):
            return f"@{found.group(1)}/{template}"
        return template
    return join_path


def render_translated(name: str, **context: Any) -> str:
    """:func:`flask.render_template` of ``name`` compiled for the request's language (constant texts
    translated once, at compile time): the same page as rendering ``name`` itself."""
    from flask import render_template
    if not current_app.config.get("TRANSLATED_TEMPLATES", True) or request.script_root:
        return render_template(name, **context)
    return render_template(f"@{current_language()}/{name}", **context)


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=_select_locale)
    # Plain globals instead of Jinja's "newstyle" wrappers (three calls deep per string, a third
    # of a page's rendering time): same behaviour, the catalogue's text is trusted markup and
    # every placeholder value is escaped by Markup's % operator.
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext)
    app.jinja_env.filters["localtime"] = localtime

    @app.context_processor
    def _gettext_for_this_render() -> dict[str, Any]:
        from flask import has_request_context
        if not has_request_context():
            return {}
        bound = _bound_gettext()
        return {"_": bound, "gettext": bound}

    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.loader = LanguageLoader(app.jinja_env.loader)
    app.jinja_env.join_path = _join_path(app.jinja_env)  # type: ignore[method-assign]
    app.after_request(_remember_language)


# ------------------------------------------------------------------ maintenance commands

def _catalog_paths() -> tuple[Path, Path]:
    po = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
    return po, po.with_suffix(".mo")


def extract() -> Any:
    """Every translatable string in the views and templates, as a Babel catalogue."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    root = Path(__file__).resolve().parent
    catalog = Catalog(project="market40", locale=None, charset="utf-8")
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    for filename, lineno, message, comments, context in extract_from_dir(
            root, method_map, options_map=options, keywords={"_": None, "gettext": None, "ngettext": (1, 2),
                                                             "lazy_gettext": None, "N_": None}):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def untranslated(catalog: Any) -> list[Any]:
    """Message ids of ``catalog`` without a (complete, non-fuzzy) translation."""
    missing = []
    for message in catalog:
        if not message.id:
            continue
        text = message.string
        done = all(text) if isinstance(text, (list, tuple)) else bool(text)
        if not done or message.fuzzy:
            missing.append(message.id)
    return missing


def compile_catalog(po: Path | None = None) -> bytes:
    """The ``.mo`` bytes for a ``.po`` file."""
    from io import BytesIO

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    po = po or _catalog_paths()[0]
    with po.open("rb") as handle:
        catalog = read_po(handle)
    out = BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def main(argv: list[str]) -> int:
    from babel.messages.pofile import read_po, write_po
    po, mo = _catalog_paths()
    if argv[:1] == ["update"]:
        template = extract()
        if po.exists():
            with po.open("rb") as handle:
                catalog = read_po(handle, locale="en")
        else:
            from babel.messages.catalog import Catalog
            catalog = Catalog(locale="en", project="market40")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.fuzzy = False
        po.parent.mkdir(parents=True, exist_ok=True)
        with po.open("wb") as handle:
            write_po(handle, catalog, sort_output=True, width=100, ignore_obsolete=True)
        missing = untranslated(catalog)
        print(f"{po}: {len(catalog)} messages, {len(missing)} to translate")
        return 0
    if argv[:1] == ["compile"]:
        mo.write_bytes(compile_catalog(po))
        print(f"wrote {mo}")
        return 0
    print("usage: python -m web.i18n update|compile", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
