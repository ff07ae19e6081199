"""Bearer JWT auth: real signatures, real claims checks, real JWKS."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt.algorithms import RSAAlgorithm
from pydantic import ValidationError

from tests.support.stack import TEST_JWT_SECRET, serve
from tests.support.tokens import signed_token
from upward_common.auth import Principal, Role, TokenVerifier, mint_token
from upward_common.problems import Problem
from upward_common.settings import DEV_JWT_SECRET, UpwardSettings

SETTINGS = UpwardSettings(environment="test", jwt_secret=TEST_JWT_SECRET)


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": "u1", "roles": ["participant"], "employee_id": "e1",
                            "iss": SETTINGS.jwt_issuer, "aud": SETTINGS.jwt_audience,
                            "exp": int(time.time()) + 60}
    base.update(overrides)
    return base


def signed(**overrides: Any) -> str:
    return signed_token(**claims(**overrides))


async def test_a_minted_token_verifies_with_its_roles_and_employee() -> None:
    token = mint_token(SETTINGS, roles=["hr_admin", "participant"], employee_id="e7")
    principal = await TokenVerifier(SETTINGS).verify(token)
    assert principal.roles == {Role.HR_ADMIN, Role.PARTICIPANT}
    assert principal.employee_id == "e7"


async def test_a_token_verified_lately_is_known_by_its_text_until_its_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verifier = TokenVerifier(SETTINGS)
    decoded: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    exp = int(time.time()) + 2
    token = signed(exp=exp)
    first = await verifier.verify(token)
    again = await verifier.verify(token)
    assert again is first and decoded == [token]

    # One character changed (the signature's last) is another text: verified, refused.
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(Problem) as caught:
        await verifier.verify(tampered)
    assert caught.value.status == 401 and decoded == [token, tampered]

    # Past its exp the token is checked again, and refused as expired.
    await asyncio.sleep(exp + 0.05 - time.time())
    with pytest.raises(Problem) as expired:
        await verifier.verify(token)
    assert "expired" in expired.value.detail and decoded == [token, tampered, token]


async def test_a_long_lived_token_is_verified_again_after_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verifier = TokenVerifier(SETTINGS)
    now = time.time()
    token = signed(exp=int(now) + 3600)
    await verifier.verify(token)
    checks: list[str] = []
    check = verifier._check

    async def counted(text: str) -> Any:
        checks.append(text)
        return await check(text)

    monkeypatch.setattr(verifier, "_check", counted)
    monkeypatch.setattr(time, "time", lambda: now + TokenVerifier.VERIFIED_SECONDS - 1)
    await verifier.verify(token)
    assert checks == []
    monkeypatch.setattr(time, "time", lambda: now + TokenVerifier.VERIFIED_SECONDS + 1)
    await verifier.verify(token)
    assert checks == [token]


async def test_only_the_most_recent_verified_tokens_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(TokenVerifier, "VERIFIED_TOKENS", 3)
    verifier = TokenVerifier(SETTINGS)
    tokens = [signed(sub=f"user-{i}") for i in range(5)]
    for token in tokens:
        await verifier.verify(token)
    assert list(verifier._verified) == tokens[2:]


@pytest.mark.parametrize(
    ("overrides", "secret", "expected"),
    [
        ({"exp": int(time.time()) - 10}, TEST_JWT_SECRET, "expired"),
        ({"aud": "someone-else"}, TEST_JWT_SECRET, "not valid"),
        ({"iss": "evil"}, TEST_JWT_SECRET, "not valid"),
        ({}, "another-secret-entirely-0123456789abcdef", "not valid"),
        ({"roles": ["superuser"]}, TEST_JWT_SECRET, "unknown role"),
    ],
)
async def test_a_bad_token_is_refused_with_401(
    overrides: dict[str, Any], secret: str, expected: str
) -> None:
    token = jwt.encode(claims(**overrides), secret, algorithm="HS256")
    with pytest.raises(Problem) as caught:
        await TokenVerifier(SETTINGS).verify(token)
    assert caught.value.status == 401
    assert expected in caught.value.detail


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"roles": 5}, "roles claim"),
        ({"roles": None}, "roles claim"),
        ({"roles": "hr_admin"}, "roles claim"),
        ({"roles": {"hr_admin": True}}, "roles claim"),
        ({"roles": []}, "roles claim"),
        ({"roles": [5]}, "roles claim"),
        ({"roles": [["hr_admin"]]}, "roles claim"),
        ({"roles": ["hr_admin", None]}, "roles claim"),
        ({"roles": ["participant", "root"]}, "unknown role"),
        ({"roles": None, "employee_id": None}, "roles claim"),
        ({"sub": ""}, "sub claim"),
        ({"sub": "a" * 256}, "sub claim"),
        ({"sub": "u1\n"}, "sub claim"),
        ({"sub": 5}, "not valid"),
        ({"employee_id": 7}, "employee_id claim"),
        ({"employee_id": ""}, "employee_id claim"),
        ({"employee_id": "e" * 65}, "employee_id claim"),
        ({"employee_id": "e1/../e2"}, "employee_id claim"),
        ({"employee_id": ["e1"]}, "employee_id claim"),
        ({"employee_id": {"id": "e1"}}, "employee_id claim"),
        ({"exp": "tomorrow"}, "not valid"),
        ({"iss": 5}, "not valid"),
    ],
)
async def test_a_malformed_claim_is_refused_with_401_naming_it(
    overrides: dict[str, Any], expected: str
) -> None:
    with pytest.raises(Problem) as caught:
        await TokenVerifier(SETTINGS).verify(signed(**overrides))
    assert caught.value.status == 401
    assert expected in caught.value.detail
    if expected.endswith(" claim"):
        assert caught.value.field == expected.removesuffix(" claim")
    assert caught.value.headers == {"WWW-Authenticate": 'Bearer error="invalid_token"'}


async def test_a_token_without_roles_is_refused() -> None:
    without = {k: v for k, v in claims().items() if k != "roles"}
    with pytest.raises(Problem) as caught:
        await TokenVerifier(SETTINGS).verify(jwt.encode(without, TEST_JWT_SECRET,
                                                        algorithm="HS256"))
    assert caught.value.status == 401 and "roles claim" in caught.value.detail


async def test_repeated_roles_and_a_null_employee_id_are_accepted() -> None:
    principal = await TokenVerifier(SETTINGS).verify(
        signed(roles=["participant", "participant"], employee_id=None))
    assert principal.roles == {Role.PARTICIPANT}
    assert principal.employee_id is None


@pytest.mark.parametrize("roles", [["hris"], ["hr_admin"], ["programme_manager"],
                                   ["hris", "programme_manager"]])
async def test_only_the_participant_role_acts_as_the_employee_it_names(
    roles: list[str],
) -> None:
    verifier = TokenVerifier(SETTINGS)
    principal = await verifier.verify(signed(roles=roles, employee_id="e1"))
    assert principal.employee_id is None
    both = await verifier.verify(signed(roles=[*roles, "participant"], employee_id="e1"))
    assert both.employee_id == "e1"


async def test_an_hris_token_naming_an_employee_cannot_act_for_them() -> None:
    principal = await TokenVerifier(SETTINGS).verify(signed(roles=["hris"], employee_id="e1"))
    with pytest.raises(Problem) as caught:
        principal.require_self_or_admin("e1")
    assert caught.value.status == 403
    # Built by hand, a principal follows the same rule.
    assert Principal(sub="job", roles=frozenset({Role.HRIS}), employee_id="e1").employee_id is None


async def test_an_unsigned_token_is_refused() -> None:
    token = jwt.encode(claims(), None, algorithm="none")
    with pytest.raises(Problem):
        await TokenVerifier(SETTINGS).verify(token)


def test_the_default_secret_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="development default"):
        UpwardSettings(environment="production")
    assert UpwardSettings(environment="development").jwt_secret.get_secret_value() == DEV_JWT_SECRET
    UpwardSettings(environment="production", jwt_secret="a-real-secret-from-a-vault-0123456789")


async def test_rs256_tokens_verify_against_the_issuers_jwks_and_hs256_ones_do_not() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256")
    issuer = FastAPI()

    @issuer.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return {"keys": [jwk]}

    async with serve("issuer", issuer) as running:
        settings = UpwardSettings(environment="production",
                                  jwks_url=f"{running.url}/.well-known/jwks.json",
                                  jwt_issuer="https://idp.example", jwt_audience="upward")
        verifier = TokenVerifier(settings)
        good = jwt.encode(claims(iss="https://idp.example", roles=["hr_admin"]), key,
                          algorithm="RS256", headers={"kid": "k1"})
        assert (await verifier.verify(good)).roles == {Role.HR_ADMIN}
        forged = jwt.encode(claims(iss="https://idp.example"), DEV_JWT_SECRET,
                            algorithm="HS256", headers={"kid": "k1"})
        with pytest.raises(Problem) as caught:
            await verifier.verify(forged)
        assert caught.value.status == 401


def test_settings_take_service_prefix_over_shared_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from enrolment.config import EnrolmentSettings

    monkeypatch.setenv("UPWARD_NATS_URL", "nats://shared:4222")
    monkeypatch.setenv("UPWARD_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("ENROLMENT_NATS_URL", "nats://mine:4222")
    settings = EnrolmentSettings()
    assert settings.nats_url == "nats://mine:4222"
    assert settings.log_level == "DEBUG"
