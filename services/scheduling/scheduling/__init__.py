"""Upward scheduling service."""
