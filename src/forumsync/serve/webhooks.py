"""`POST /webhooks/github` and `POST /webhooks/discourse`: verified, bounded, deduplicated,
stored, answered at once; the sync itself runs on the worker (forumsync.serve.deliveries).

- Signature: HMAC-SHA256 of the raw body with the shared secret, sent as `sha256=<hex>` in
  `X-Hub-Signature-256` (GitHub) or `X-Discourse-Event-Signature` (Discourse), compared in
  constant time against the current secret and, while rotating, the previous one.
- Bad or missing signature: 401, nothing stored. No secret configured: 404 (webhooks off).
- Bodies over `MAX_BODY_BYTES`: 413, read no further.
- Dedupe by `X-GitHub-Delivery` / `X-Discourse-Event-Id`: a redelivery answers 200 and does
  nothing; a new one is stored (committed) before the 202.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from forumsync.config import Config
from forumsync.serve import deliveries
from forumsync.timeutil import utcnow

# GitHub caps payloads at 25 MB; the events followed here carry at most a PR body or a post
# (GitHub's 65,536 characters, Discourse's 32,000 by default), a few hundred KB at worst as
# escaped JSON, so 1 MiB leaves room and bounds what one request can make us hold.
MAX_BODY_BYTES = 1024 * 1024

# The events that can change a stage, a link or activity; anything else is stored (so a
# redelivery is still recognised) and needs no sync.
GITHUB_EVENTS = {"pull_request", "pull_request_review", "issue_comment", "push",
                 "pull_request_review_comment"}
DISCOURSE_EVENTS = {"topic_created", "topic_edited", "topic_destroyed", "topic_recovered",
                    "post_created", "post_edited", "post_destroyed", "post_recovered"}


@dataclass(frozen=True)
class Source:
    name: str
    signature_header: str
    id_header: str
    event_header: str

    def secrets(self, config: Config) -> list[bytes]:
        values = (getattr(config.serve, f"{self.name}_webhook_secret"),
                  getattr(config.serve, f"{self.name}_webhook_secret_previous"))
        return [v.encode("utf-8") for v in values if v]


GITHUB = Source("github", "x-hub-signature-256", "x-github-delivery", "x-github-event")
DISCOURSE = Source("discourse", "x-discourse-event-signature", "x-discourse-event-id",
                   "x-discourse-event")


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secrets: list[bytes], body: bytes, header: str | None) -> bool:
    """True if `header` is the signature of `body` under any of `secrets` (constant time:
    every secret is tried, and each comparison takes the same time whatever matches)."""
    if not header:
        return False
    given = header.strip().encode("ascii", "replace")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(signature(secret, body).encode("ascii"), given)
    return matched


class TooLarge(Exception):
    pass


async def read_bounded(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _subject_and_kind(source: Source, kind: str, payload: Any) -> tuple[str, str]:
    """What the delivery touches (`pr-12`, `t-34`) and its event name with its action."""
    if not isinstance(payload, dict):
        return "", kind
    if source is GITHUB:
        action = payload.get("action")
        pull = payload.get("pull_request") or payload.get("issue") or {}
        number = pull.get("number") if isinstance(pull, dict) else None
        return (f"pr-{number}" if isinstance(number, int) else "",
                f"{kind}.{action}" if isinstance(action, str) else kind)
    for name in ("topic", "post"):
        item = payload.get(name)
        if isinstance(item, dict):
            topic = item.get("id") if name == "topic" else item.get("topic_id")
            if isinstance(topic, int):
                return f"t-{topic}", kind
    return "", kind


def handler(source: Source, config: Config, sessions: sessionmaker[Session],
            wake: Callable[[], None]) -> Callable[[Request], Any]:
    followed = GITHUB_EVENTS if source is GITHUB else DISCOURSE_EVENTS

    async def receive(request: Request) -> JSONResponse:
        secrets = source.secrets(config)
        if not secrets:
            return JSONResponse({"error": f"{source.name} webhooks are not configured"}, 404)
        try:
            body = await read_bounded(request)
        except TooLarge:
            return JSONResponse({"error": f"body over {MAX_BODY_BYTES} bytes"}, 413)
        if not verify(secrets, body, request.headers.get(source.signature_header)):
            return JSONResponse({"error": "bad or missing signature"}, 401)
        delivery = request.headers.get(source.id_header, "").strip()
        kind = request.headers.get(source.event_header, "").strip()
        if not delivery or len(delivery) > 100 or not kind:
            return JSONResponse({"error": f"missing {source.id_header} or "
                                          f"{source.event_header}"}, 400)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested past any real payload
            return JSONResponse({"error": "the body is not JSON"}, 400)
        subject, name = _subject_and_kind(source, kind, payload)
        needs_sync = kind in followed
        stored = await run_in_threadpool(deliveries.record, sessions, source.name, delivery,
                                         name, subject, utcnow(), needs_sync=needs_sync)
        if not stored:
            return JSONResponse({"delivery": delivery, "duplicate": True}, 200)
        if needs_sync:
            wake()
        return JSONResponse({"delivery": delivery, "queued": needs_sync}, 202)

    return receive
