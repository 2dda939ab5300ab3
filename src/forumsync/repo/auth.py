"""How the service authenticates to GitHub: a token, or a GitHub App installation.

PyGithub's `AppInstallationAuth` signs a JWT with the App's private key, exchanges it for an
installation token (`POST /app/installations/{id}/access_tokens`) and renews it before it
expires, so every request is made as the App's bot account `<app-slug>[bot]`.
"""

from __future__ import annotations

from github import Auth, GithubIntegration

from forumsync.config import GithubConfig


def github_auth(config: GithubConfig) -> Auth.Auth | None:
    """The App's installation when `app_id` is set, else the token, else none (public
    reads only)."""
    if config.app_id:
        return Auth.AppAuth(config.app_id, config.app_private_key or "").get_installation_auth(
            config.installation_id)
    return Auth.Token(config.token) if config.token else None


def app_bot_login(config: GithubConfig) -> str:
    """`<slug>[bot]`, the login the App's writes carry (GET /app, signed with the JWT): an
    installation token may not read GET /user."""
    integration = GithubIntegration(base_url=config.api_url.rstrip("/"), auth=Auth.AppAuth(
        config.app_id, config.app_private_key or ""))
    try:
        return f"{integration.get_app().slug}[bot]"
    finally:
        integration.close()
