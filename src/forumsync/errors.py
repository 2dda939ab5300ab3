"""The project's own error for a failed call to Discourse or GitHub.

Adapters raise only `ServiceError`: it names the service, the operation and the item, and
never carries a secret, so the cycle can report it and go on with the next item.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A call to `service` failed for `operation` on `item` (after any retries)."""

    def __init__(
        self,
        service: str,
        operation: str,
        item: str,
        detail: str,
        *,
        status: int | None = None,
        transient: bool = False,
    ) -> None:
        self.service = service
        self.operation = operation
        self.item = item
        self.detail = detail
        self.status = status
        self.transient = transient
        super().__init__(f"{service}: {operation} {item} failed: {detail}")

    @property
    def rate_limited(self) -> bool:
        """Out of requests for now: further calls this cycle would fail the same way."""
        return self.transient and self.status in (403, 429)


def scrub(text: str, secret: str | None) -> str:
    """`text` with the secret masked: what any message about a failed call goes through."""
    return text.replace(secret, "***") if secret else text


def backoff_delay(retry: int, cap: float, base: float = 1.0) -> float:
    """Seconds before retry number `retry` (0 for the first): 1, 2, 4, ... capped."""
    return min(cap, base * 2 ** max(0, retry))


class NotFound(ServiceError):
    """The item does not exist (404), or is not visible with these credentials."""
