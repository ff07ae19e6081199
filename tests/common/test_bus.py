"""The NATS connection's own rules."""

from upward_common.bus import redacted


def test_logged_nats_urls_carry_no_password() -> None:
    assert redacted("nats://matching:s3cret@nats:4222") == "nats://matching:***@nats:4222"
    assert redacted("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"
