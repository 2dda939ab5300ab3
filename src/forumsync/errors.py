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


class NotFound(ServiceError):
    """The item does not exist (404), or is not visible with these credentials."""
