"""Upward enrolment service."""
