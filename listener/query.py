"""The brand's query as a local filter: any keyword, none of the exclusions.

Platforms apply the query server-side where they can (X search); sources that
receive more than the query asks for (a Reddit comment listing, a recorded
replay) apply it here, with the same meaning: case-insensitive phrases on word
boundaries; "@handle" and "#tag" match literally.
"""

from __future__ import annotations

import re

from brandpulse.config import Query


def _phrase(p: str) -> str:
    body = r"\s+".join(re.escape(w) for w in p.strip().split())
    # Word boundaries only against Latin letters and digits: in Japanese or
    # Chinese the next character is a word character too ("ケストレル航空の").
    # A plain word also matches its @handle and #hashtag forms.
    start = r"(?<![A-Za-z0-9_])" if p[:1].isalnum() or p[:1] in "@#" else ""
    end = r"(?![A-Za-z0-9_])" if p[-1:].isalnum() or p[-1:] == "_" else ""
    return start + body + end


class QueryMatcher:
    def __init__(self, query: Query) -> None:
        keywords = [k for k in query.keywords if k.strip()]
        excludes = [k for k in query.exclude if k.strip()]
        self._any = re.compile("|".join(_phrase(k) for k in keywords), re.IGNORECASE) if keywords else None
        self._none = re.compile("|".join(_phrase(k) for k in excludes), re.IGNORECASE) if excludes else None
        self._own_communities = frozenset(c.lower().removeprefix("r/") for c in query.brand_subreddits)

    def matches(self, text: str, *, title: str | None = None, community: str | None = None) -> bool:
        """True if the post is about the brand: in one of the brand's own
        subreddits, or naming a keyword; never with an exclusion."""
        full = f"{title}\n{text}" if title else text
        if self._none is not None and self._none.search(full):
            return False
        if community and community.lower() in self._own_communities:
            return True
        return self._any is None or self._any.search(full) is not None
