"""`forumsync serve`: the committee's dashboard, its JSON API, health, and the webhooks."""

from forumsync.serve.app import create_app

__all__ = ["create_app"]
