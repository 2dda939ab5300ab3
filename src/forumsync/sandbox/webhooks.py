"""Signed webhook deliveries from the sandbox, as the real services send them.

GitHub: `POST` with `X-GitHub-Event`, `X-GitHub-Delivery` (a GUID), `X-Hub-Signature-256`
(`sha256=` HMAC-SHA256 hex of the body), `User-Agent: GitHub-Hookshot/…`. Discourse:
`X-Discourse-Instance`, `X-Discourse-Event-Id` (a number), `X-Discourse-Event-Type`
(topic, post), `X-Discourse-Event` (topic_edited, post_created),
`X-Discourse-Event-Signature` (same form). Each goes out from a thread of its own after the
change is made, like the services' delivery queues; `sent` records what was answered.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests


@dataclass
class Sent:
    event: str
    delivery: str
    status: int | None  # None: no answer
    at: float  # time.monotonic() when it was sent
    seconds: float  # until the answer


class WebhookSender:
    def __init__(self, service: str) -> None:
        self.service = service
        self.targets: list[tuple[str, str]] = []  # (url, secret)
        self.sent: list[Sent] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def subscribe(self, url: str, secret: str) -> None:
        self.targets.append((url, secret))

    def deliver(self, event: str, payload: dict[str, Any], **extra_headers: str) -> None:
        """Send `payload` to every subscriber, signed; returns at once."""
        if not self.targets:
            return
        body = json.dumps(payload).encode("utf-8")
        delivery = str(uuid.uuid4()) if self.service == "github" else str(next(self._ids))
        for url, secret in self.targets:
            thread = threading.Thread(target=self._post, daemon=True,
                                      args=(url, secret, event, delivery, body, extra_headers))
            self._threads.append(thread)
            thread.start()

    def redeliver(self, event: str, delivery: str, payload: dict[str, Any]) -> int | None:
        """Send a delivery again with its original id (as "Redeliver" does); waits."""
        url, secret = self.targets[0]
        return self._post(url, secret, event, delivery, json.dumps(payload).encode("utf-8"),
                          {})

    def wait(self, timeout: float = 5.0) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

    def _post(self, url: str, secret: str, event: str, delivery: str, body: bytes,
              extra: dict[str, str]) -> int | None:
        signature = "sha256=" + hmac.new(secret.encode("utf-8"), body,
                                         hashlib.sha256).hexdigest()
        if self.service == "github":
            headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
                       "X-Hub-Signature-256": signature,
                       "User-Agent": "GitHub-Hookshot/sandbox"}
        else:
            headers = {"X-Discourse-Event-Id": delivery, "X-Discourse-Event": event,
                       "X-Discourse-Event-Signature": signature}
        headers.update(extra, **{"Content-Type": "application/json"})
        started = time.monotonic()
        try:
            status: int | None = requests.post(url, data=body, headers=headers,
                                               timeout=10).status_code
        except requests.RequestException:
            status = None
        with self._lock:
            self.sent.append(Sent(event, delivery, status, started,
                                  time.monotonic() - started))
        return status
