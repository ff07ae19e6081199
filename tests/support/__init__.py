"""Test support: real nats-server, real databases, real HTTP servers."""
