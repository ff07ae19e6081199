"""Upward analytics service."""
