"""Upward's shared kernel: the one copy of the plumbing every service uses."""
