"""The dry-run channel: the default, and real code used in production.

It posts nothing. It records each post it would have made (``sent``), prints
one line per post to ``out`` when given, and enforces the platform's length
limit like a real channel would (a post that is too long fails permanently).
``find_sent`` answers from what this instance recorded, so reconciliation
works within one process; after a restart a dry-run post that was left
uncertain is simply "not found" and goes out (to nowhere) again.

On X it applies X's reply rule as the live channel does
(:func:`~outreach.channels.base.x_reply_allowed`): a reply to a post that did
not @mention or quote the replying account is not "posted" but raises
:class:`~outreach.channels.base.ManualReplyRequired` (the outbox marks it
``manual``, for a person to answer by hand), and the printed line says so.
With no brand account named, which account would reply is not known here:
a reply to a post known to address some handle is shown as posted.
"""

from __future__ import annotations

import re
from typing import TextIO

from brandpulse.types import shown_handle
from outreach.channels.base import OutboundPost, SendError, SentPost, x_reply_allowed, x_reply_by_hand

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keep \t and \n; drop terminal escapes


class DryRunChannel:
    def __init__(self, platform: str, *, out: TextIO | None = None, max_length: int | None = None) -> None:
        self.platform = platform
        self.max_length = max_length
        self.sent: list[OutboundPost] = []
        self._out = out

    def __repr__(self) -> str:
        return f"DryRunChannel(platform={self.platform!r}, max_length={self.max_length!r}, sent={len(self.sent)})"

    def describe(self, post: OutboundPost, *, refused: str | None = None) -> str:
        """The line printed for ``post``: ``[dry-run] would post on x as @AcmeHelp in reply to 123: …``;
        with ``refused`` (why the platform would not take it), ``would not post …: <refused>``."""
        if post.account:
            who = f" as {shown_handle(self.platform, post.account)}"
        else:
            who = " (no brand account configured)"
        target = f" in reply to {post.in_reply_to}" if post.in_reply_to else ""
        title = f" [{post.title}]" if post.title else ""
        where = f" in r/{post.community}" if post.community and self.platform == "reddit" else ""
        verb, what = ("would post", post.text) if refused is None else ("would not post", refused)
        return _CONTROL.sub("", f"[dry-run] {verb} on {self.platform}{where}{who}{target}{title}: {what}")

    def send(self, post: OutboundPost) -> SentPost:
        if post.platform != self.platform:
            raise SendError(
                f"post {post.outbox_id} is for {post.platform}, this channel posts on {self.platform}", permanent=True
            )
        if self.max_length is not None and len(post.text) > self.max_length:
            raise SendError(
                f"text is {len(post.text)} characters; {self.platform} allows {self.max_length}", permanent=True
            )
        if self.platform == "x" and not self._x_allows(post):
            error = x_reply_by_hand(post, account=post.account)
            if self._out is not None:
                print(self.describe(post, refused=str(error)), file=self._out, flush=True)
            raise error
        self.sent.append(post)
        if self._out is not None:
            print(self.describe(post), file=self._out, flush=True)
        return SentPost(external_id=f"dry-run-{post.outbox_id}")

    @staticmethod
    def _x_allows(post: OutboundPost) -> bool:
        if post.account:
            return x_reply_allowed(post, account=post.account)
        return post.in_reply_to is None or post.kind == "status" or bool(post.addressed_handles)

    def find_sent(self, post: OutboundPost) -> SentPost | None:
        for recorded in self.sent:
            if recorded.outbox_id == post.outbox_id:
                return SentPost(external_id=f"dry-run-{recorded.outbox_id}")
        return None
