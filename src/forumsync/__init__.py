"""forumsync: keeps SPEC forum threads and GitHub pull requests in step."""

__version__ = "0.1.0"
