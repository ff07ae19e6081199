"""Tokens signed with the suite's secret whatever their claims: the shapes a broken or
hostile issuer could send, which `mint_token` refuses to make."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt

from tests.support.stack import TEST_JWT_SECRET
from upward_common.settings import UpwardSettings


def signed_token(**claims: Any) -> str:
    """A validly signed, unexpired token for the suite's issuer and audience with `claims`."""
    settings = UpwardSettings(environment="test", jwt_secret=TEST_JWT_SECRET)
    payload = {"sub": "someone", "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
               "exp": int(time.time()) + 600, **claims}
    return jwt.PyJWS().encode(json.dumps(payload).encode(), TEST_JWT_SECRET, algorithm="HS256")
