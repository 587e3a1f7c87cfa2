"""The dry-run channel: the default, and real code used in production.

It posts nothing. It records each post it would have made (``sent``), prints
one line per post to ``out`` when given, and enforces the platform's length
limit like a real channel would (a post that is too long fails permanently).
``find_sent`` answers from what this instance recorded, so reconciliation
works within one process; after a restart a dry-run post that was left
uncertain is simply "not found" and goes out (to nowhere) again.
"""

from __future__ import annotations

import re
from typing import TextIO

from brandpulse.types import shown_handle
from outreach.channels.base import OutboundPost, SendError, SentPost

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keep \t and \n; drop terminal escapes


class DryRunChannel:
    def __init__(self, platform: str, *, out: TextIO | None = None, max_length: int | None = None) -> None:
        self.platform = platform
        self.max_length = max_length
        self.sent: list[OutboundPost] = []
        self._out = out

    def __repr__(self) -> str:
        return f"DryRunChannel(platform={self.platform!r}, max_length={self.max_length!r}, sent={len(self.sent)})"

    def describe(self, post: OutboundPost) -> str:
        """The line printed for ``post``: ``[dry-run] would post on x as @AcmeHelp in reply to 123: …``."""
        if post.account:
            who = f" as {shown_handle(self.platform, post.account)}"
        else:
            who = " (no brand account configured)"
        target = f" in reply to {post.in_reply_to}" if post.in_reply_to else ""
        title = f" [{post.title}]" if post.title else ""
        where = f" in r/{post.community}" if post.community and self.platform == "reddit" else ""
        return _CONTROL.sub("", f"[dry-run] would post on {self.platform}{where}{who}{target}{title}: {post.text}")

    def send(self, post: OutboundPost) -> SentPost:
        if post.platform != self.platform:
            raise SendError(
                f"post {post.outbox_id} is for {post.platform}, this channel posts on {self.platform}", permanent=True
            )
        if self.max_length is not None and len(post.text) > self.max_length:
            raise SendError(
                f"text is {len(post.text)} characters; {self.platform} allows {self.max_length}", permanent=True
            )
        self.sent.append(post)
        if self._out is not None:
            print(self.describe(post), file=self._out, flush=True)
        return SentPost(external_id=f"dry-run-{post.outbox_id}")

    def find_sent(self, post: OutboundPost) -> SentPost | None:
        for recorded in self.sent:
            if recorded.outbox_id == post.outbox_id:
                return SentPost(external_id=f"dry-run-{recorded.outbox_id}")
        return None
