"""Upward matching service."""
