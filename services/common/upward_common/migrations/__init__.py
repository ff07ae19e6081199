"""Helpers for every service's Alembic environment and first migration."""
