"""Reply templates: one sandboxed Jinja2 environment, checked at start-up.

Templates are written by the people who run brandpulse, so they are rendered
by Jinja2's sandbox (no ``''.__class__.__mro__`` escapes, no mutation of the
values passed in) with ``StrictUndefined``. Every configured template is
compiled, checked against the documented variables below and rendered with
sample data when :class:`TemplateRenderer` is built, so a typo fails when the
configuration loads, not when the first complaint arrives at 3 a.m.

Replies are plain text: nothing is HTML-escaped (``&`` stays ``&``). The HTML
digest uses the same environment factory (:func:`make_environment`) with
autoescaping on.

Variables a reply template may use
==================================

======================  ===================  =========================================================
variable                type                 meaning
======================  ===================  =========================================================
``author.handle``       str                  the author's handle, without ``@`` or ``u/``
``author.mention``      str                  the handle as the platform writes it: ``@sam`` on X,
                                             ``u/sam`` on Reddit
``author.name``         str or none          display name, when the platform gives one
``author.followers``    int                  follower count (0 when unknown)
``author.verified``     bool                 the platform's verified flag
``mention.text``        str                  the post's text
``mention.url``         str or none          link to the post
``mention.platform``    str                  ``x``, ``reddit`` or ``replay``
``mention.created_at``  datetime (UTC)       when it was posted
``mention.title``       str or none          Reddit submission title
``mention.community``   str or none          subreddit, without ``r/``
``mention.lang``        str or none          language code, when known
``brand.id``            str                  the brand's id in the configuration
``brand.name``          str                  the brand's name
``alert.id``            int or none          the alert this reply answers, if any
``alert.priority``      str or none          ``P1`` … ``P4``
``score.label``         str or none          ``negative``, ``neutral``, ``positive`` or ``unknown``
``score.compound``      float or none        sentiment, -1 … 1
``platform.name``       str                  the platform the reply goes to: ``x``, ``reddit``, ``replay``
``platform.max_length`` int or none          its length limit (X 280 as X counts, Reddit 10,000)
``platform.markdown``   bool                 whether the platform renders Markdown (Reddit: yes)
======================  ===================  =========================================================

A value that is none renders as an empty string, so ``{{ author.name }}``
never prints "None"; use ``{{ author.name or author.handle }}`` for a
fallback. Any other name or attribute (``{{ autor.handle }}``,
``{{ author.nickname }}``) is an error at load, even inside a branch the sample
data does not take; so is an unknown filter or test.

Platforms
=========

* **Length.** Each reply must fit its platform: X counts 280 *weighted*
  characters (URLs 23, CJK and emoji 2: :mod:`outreach.channels.textlength`),
  Reddit takes 10,000. Every template is rendered with sample data for each
  platform it is meant for (``platforms``, default X and Reddit) and a sample
  render over the limit fails at load. A real reply over the limit (a long
  handle or quoted text) is drafted ``held`` with the reason, never cut.
* **Mentions.** ``author.mention`` addresses the author as the platform
  writes it (``@sam`` / ``u/sam``).
* **Markdown.** Reddit renders replies as Markdown, X does not. Text that
  comes from a post (``mention.text``, ``mention.title``, ``author.name``)
  should go through ``| markdown_escape`` in a template used on Reddit: on
  Reddit it backslash-escapes Markdown syntax (``*``, ``_``, ``[``, ``#`` …) so
  a quoted post cannot format or link; on other platforms it changes
  nothing. ``{% if platform.markdown %}`` lets a template use Markdown on
  Reddit only.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Mapping, Sequence

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError, nodes, pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from brandpulse.config import Brand, ConfigError, Settings
from brandpulse.types import Author, Label, Mention, Priority, Score, shown_handle
from outreach.channels.textlength import weighted_length

# The documented variables: top-level name → the keys it has. The sample data
# and reply_context() produce exactly these keys (a test checks it).
VARIABLES: dict[str, tuple[str, ...]] = {
    "author": ("handle", "mention", "name", "followers", "verified"),
    "mention": ("text", "url", "platform", "created_at", "title", "community", "lang"),
    "brand": ("id", "name"),
    "alert": ("id", "priority"),
    "score": ("label", "compound"),
    "platform": ("name", "max_length", "markdown"),
}

# Reply length limits, and how each platform counts.
PLATFORM_LIMITS: dict[str, int] = {"x": 280, "reddit": 10_000}
MARKDOWN_PLATFORMS = frozenset({"reddit"})


def text_length(platform: str, text: str) -> int:
    """The length ``platform`` gives ``text`` (X weighs characters)."""
    return weighted_length(text) if platform == "x" else len(text)


def length_problem(platform: str, text: str) -> str | None:
    """None when ``text`` fits ``platform``, else a sentence saying by how much it does not."""
    limit = PLATFORM_LIMITS.get(platform)
    if limit is None:
        return None
    n = text_length(platform, text)
    if n <= limit:
        return None
    how = " as X counts them (URLs 23, CJK and emoji 2)" if platform == "x" else ""
    return f"{n} characters{how}, over the {platform} limit of {limit} by {n - limit}"


_MD_INLINE = re.compile(r"([\\`*_{}\[\]()<>#|~^!])")
_MD_BULLET = re.compile(r"^(\s*)([-+])", re.MULTILINE)  # list items
_MD_ORDERED = re.compile(r"^(\s*\d+)\.", re.MULTILINE)  # "1." starts a numbered list


def escape_markdown(text: str) -> str:
    """``text`` with Markdown syntax backslash-escaped, so it shows as written."""
    text = _MD_INLINE.sub(r"\\\1", str(text))
    text = _MD_BULLET.sub(r"\1\\\2", text)
    return _MD_ORDERED.sub(r"\1\\.", text)


@pass_context
def _markdown_escape_filter(context: Any, value: Any) -> Any:
    if value is None:
        return value
    platform = context.get("platform")
    markdown = platform.get("markdown") if isinstance(platform, Mapping) else False
    return escape_markdown(str(value)) if markdown else value

# Names Jinja itself provides inside loops, macros and call blocks.
_SPECIAL_NAMES = frozenset({"loop", "caller", "varargs", "kwargs", "self", "super"})
_SAMPLE_PLATFORMS = ("x", "reddit")


class TemplateRenderError(Exception):
    """A template failed while rendering a real reply (rare: templates are
    checked at load), or an unknown template name was asked for."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"template {name!r}: {problem}")
        self.name = name
        self.problem = problem


def _none_as_empty(value: Any) -> Any:
    return "" if value is None else value


def make_environment(*, html: bool, search_path: Sequence[Path] = ()) -> ImmutableSandboxedEnvironment:
    """The one place a Jinja2 environment is built.

    Sandboxed (immutable: templates cannot call ``.append`` or ``.update`` on
    what they are given), ``StrictUndefined``, none renders as ``""``.
    ``html`` turns autoescaping on; plain-text replies keep it off so ``&``
    stays ``&``.
    """
    loader = ChoiceLoader([FileSystemLoader(str(p)) for p in search_path]) if search_path else None
    return ImmutableSandboxedEnvironment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=html,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_none_as_empty,
        auto_reload=False,
    )


def author_mention(platform: str, handle: str) -> str:
    """How a post on ``platform`` addresses ``handle``."""
    return shown_handle(platform, handle)


def reply_context(
    *,
    mention: Mention,
    brand: Brand,
    alert_id: int | None,
    priority: Priority | None,
    score: Score | None,
) -> dict[str, Any]:
    """The variables a reply template sees (documented in the module docstring).

    Only plain values (str, int, float, bool, datetime, None) are passed in,
    never ORM rows or domain objects, so a template can reach nothing else.
    """
    author = mention.author
    return {
        "author": {
            "handle": author.handle,
            "mention": author_mention(mention.platform, author.handle),
            "name": author.name,
            "followers": int(author.followers or 0),
            "verified": bool(author.verified),
        },
        "mention": {
            "text": mention.text,
            "url": mention.url,
            "platform": str(mention.platform),
            "created_at": mention.created_at,
            "title": mention.title,
            "community": mention.community,
            "lang": mention.lang,
        },
        "brand": {"id": brand.id, "name": brand.name},
        "alert": {"id": alert_id, "priority": str(priority) if priority is not None else None},
        "score": {
            "label": str(score.label) if score is not None else None,
            "compound": float(score.compound) if score is not None else None,
        },
        "platform": {
            "name": str(mention.platform),
            "max_length": PLATFORM_LIMITS.get(str(mention.platform)),
            "markdown": str(mention.platform) in MARKDOWN_PLATFORMS,
        },
    }


_SAMPLE_TIME = datetime(2026, 1, 15, 8, 30, tzinfo=timezone.utc)


def sample_contexts(brand: Brand, platforms: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """Sample data for the load-time check: for each platform, one context
    with every optional value filled and one with every optional value none."""
    out: list[tuple[str, dict[str, Any]]] = []
    for platform in platforms:
        full = Mention(
            platform=platform,
            external_id="1880000000000000001",
            brand=brand.id,
            author=Author(platform=platform, id="42", handle="sam_rivera", name="Sam Rivera", followers=1234, verified=False),
            text="@AcmeHelp flight delayed 3 hours & nobody at the gate can tell us why",
            created_at=_SAMPLE_TIME,
            lang="en",
            url="https://example.com/status/1880000000000000001",
            title="Delayed again?" if platform == "reddit" else None,
            community="travel" if platform == "reddit" else None,
        )
        out.append(
            (
                f"sample {platform} data",
                reply_context(
                    mention=full,
                    brand=brand,
                    alert_id=17,
                    priority=Priority.P2,
                    score=Score(analyzer="sample", version="1", compound=-0.62, label=Label.NEGATIVE),
                ),
            )
        )
        sparse = replace(
            full,
            author=Author(platform=platform, id="43", handle="x", name=None, followers=0),
            text="",
            lang=None,
            url=None,
            title=None,
            community=None,
        )
        out.append(
            (
                f"sample {platform} data with optional values empty",
                reply_context(mention=sparse, brand=brand, alert_id=None, priority=None, score=None),
            )
        )
    return out


def _template_line(exc: BaseException, filename: str) -> int | None:
    """The template line an error happened on, from Jinja's rewritten traceback."""
    if isinstance(exc, TemplateSyntaxError) and exc.lineno:
        return exc.lineno
    line = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(exc: BaseException, filename: str) -> str:
    line = _template_line(exc, filename)
    where = f"line {line}: " if line else ""
    kind = "syntax error" if isinstance(exc, TemplateSyntaxError) else type(exc).__name__
    message = str(getattr(exc, "message", None) or exc).rstrip(".")
    return f"{where}{kind}: {message}"


def static_problems(
    env: ImmutableSandboxedEnvironment, ast: nodes.Template, variables: Mapping[str, tuple[str, ...]] | None = None
) -> list[str]:
    """Check names, attributes, filters and tests against what is documented
    (``variables``: name → its attributes; default: the reply templates'),
    including branches the sample data would not take."""
    documented = VARIABLES if variables is None else variables
    problems: list[str] = []
    stored = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    stored |= {m.name for m in ast.find_all(nodes.Macro)}
    stored |= {i.target for i in ast.find_all(nodes.Import)}
    for imp in ast.find_all(nodes.FromImport):
        stored |= {n if isinstance(n, str) else n[-1] for n in imp.names}
    known_globals = set(env.globals) | _SPECIAL_NAMES
    for node in ast.find_all(nodes.Name):
        if node.ctx == "load" and node.name not in documented and node.name not in stored and node.name not in known_globals:
            problems.append(
                f"line {node.lineno}: unknown variable {node.name!r} (known: {', '.join(documented)})"
            )
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not isinstance(target, nodes.Name) or target.name not in documented or target.name in stored:
            continue
        if isinstance(node, nodes.Getattr):
            key = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            key = node.arg.value
        else:
            continue
        if key not in documented[target.name]:
            problems.append(
                f"line {node.lineno}: unknown variable {target.name}.{key}"
                f" ({target.name} has: {', '.join(documented[target.name])})"
            )
    for node in ast.find_all(nodes.Filter):
        if node.name not in env.filters:
            problems.append(f"line {node.lineno}: unknown filter {node.name!r}")
    for node in ast.find_all(nodes.Test):
        if node.name not in env.tests:
            problems.append(f"line {node.lineno}: unknown test {node.name!r}")
    return list(dict.fromkeys(problems))  # de-duplicated, in order


class TemplateRenderer:
    """All configured reply templates, compiled and checked once.

    Raises :class:`brandpulse.config.ConfigError` naming the configuration
    file, ``templates.<name>`` and every problem found (with the template line
    when there is one): a syntax error, an unknown variable, attribute, filter
    or test, a missing or unreadable file, or an error while rendering the
    sample data.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._env = make_environment(html=False, search_path=[settings.templates_path])
        self._env.filters["markdown_escape"] = _markdown_escape_filter
        self._templates: dict[str, Any] = {}
        problems: list[str] = []
        brand = settings.brands[0]
        for name, config in settings.templates.items():
            key = f"templates.{name}"
            if config.file is not None:
                path = settings.templates_path / config.file
                filename = str(path)
                try:
                    source = path.read_text(encoding="utf-8")
                except FileNotFoundError:
                    problems.append(f"{key}.file: template file not found: {path}")
                    continue
                except UnicodeDecodeError:
                    problems.append(f"{key}.file: {path} is not UTF-8 text")
                    continue
                except OSError as exc:
                    problems.append(f"{key}.file: cannot read {path}: {exc.strerror}")
                    continue
            else:
                filename = f"<{key}>"
                source = config.text or ""
            try:
                ast = self._env.parse(source, name, filename)
                static = static_problems(self._env, ast)
                if static:
                    problems.extend(f"{key}: {p}" for p in static)
                    continue
                code = self._env.compile(source, name, filename)
                template = self._env.template_class.from_code(self._env, code, self._env.make_globals(None))
            except TemplateError as exc:
                problems.append(f"{key}: {_describe(exc, filename)}")
                continue
            platforms = config.platforms or _SAMPLE_PLATFORMS
            for label, context in sample_contexts(brand, platforms):
                try:
                    text = template.render(context).strip()
                except Exception as exc:  # noqa: BLE001 - any failure here is a template problem
                    problems.append(f"{key}: {_describe(exc, filename)} (rendering {label})")
                    break
                too_long = length_problem(context["platform"]["name"], text)
                if too_long:
                    problems.append(
                        f"{key}: too long for {context['platform']['name']} with {label}: {too_long};"
                        " shorten it (or limit it with platforms:)"
                    )
                    break
            else:
                self._templates[name] = template
        if problems:
            raise ConfigError(problems, path=settings.source_path)
        self.names: list[str] = list(self._templates)

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render template ``name``; surrounding whitespace is stripped."""
        try:
            template = self._templates[name]
        except KeyError:
            raise TemplateRenderError(name, f"unknown template (known: {', '.join(self.names) or 'none'})") from None
        try:
            return template.render(context).strip()
        except Exception as exc:  # noqa: BLE001 - reported with the template's name
            raise TemplateRenderError(name, _describe(exc, template.filename or "")) from exc

    def platforms(self, name: str) -> list[str] | None:
        """The platforms a template is meant for (None: any)."""
        config = self._settings.templates.get(name)
        return list(config.platforms) if config and config.platforms else None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with terminal control characters (escape sequences) removed;
    newlines and tabs are kept. For anything printed to a terminal."""
    return _CONTROL.sub("", text)
