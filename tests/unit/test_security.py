"""Authentication in process (SEC-3): the route table, tokens, client addresses, settings."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.routing import APIRoute
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import SecretStr

from sigmawatch.access import ApiKeyRecord, Role, new_api_key
from sigmawatch.registry import Registry
from sigmawatch.registry.memory import MemoryRegistry
from sigmawatch.settings import ConfigError, load_settings
from sigmawatch_inference.app import create_app
from sigmawatch_inference.security.clients import client_address
from sigmawatch_inference.security.identify import Identify, Principal
from sigmawatch_inference.security.keys import KeyCache
from sigmawatch_inference.security.routes import UNLISTED, rule_for
from sigmawatch_inference.security.settings import exposure_refusal
from sigmawatch_inference.security.tokens import TokenError, TokenVerifier
from sigmawatch_inference.settings import ServiceSettings
from support.serving import SpyRegistry, run_async

SECRET = "a-test-secret-of-at-least-32-bytes!"
ISSUER, AUDIENCE = "https://login.example", "sigmawatch"


def hs256(**settings: Any) -> ServiceSettings:
    return ServiceSettings(
        auth="jwt",
        jwt_secret=SecretStr(SECRET),
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        **settings,
    )


def token(key: Any = SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    now = datetime.now(UTC)
    payload = {"sub": "ada", "iss": ISSUER, "aud": AUDIENCE, "exp": now + timedelta(minutes=5)}
    payload |= claims
    headers = {"kid": claims.pop("kid")} if "kid" in claims else None
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm, headers)


def test_every_route_has_its_own_rule() -> None:
    """A route added without a rule would be closed to all but admins: name it instead."""
    app = create_app(ServiceSettings())
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        example = route.path.replace("{", "").replace("}", "")
        for method in route.methods or ():
            rule, _ = rule_for(method, example)
            assert rule is not UNLISTED, f"{method} {route.path} has no rule"
            assert rule.template == route.path


def test_roles_rank_and_rules_name_the_least_role() -> None:
    assert Role.ADMIN.allows(Role.TRAINER)
    assert not Role.VIEWER.allows(Role.TRAINER)
    assert rule_for("POST", "/v1/series/p/predict")[0].role is Role.VIEWER
    assert rule_for("POST", "/v1/series/p/train")[0].role is Role.TRAINER
    assert rule_for("POST", "/v1/series/p/rollback")[0].role is Role.ADMIN
    assert rule_for("HEAD", "/liveness")[0].role is None
    assert rule_for("DELETE", "/v1/series/p/train")[0] is UNLISTED
    rule, params = rule_for("POST", "/v1/series/pump_1/versions/v3/restore")
    assert (rule.action, params) == ("restore", {"series_id": "pump_1", "version": "v3"})


def test_hs256_tokens_map_their_claims_onto_roles() -> None:
    verifier = TokenVerifier(hs256())
    assert verifier.verify(token(roles=["read"])).role is Role.VIEWER
    assert verifier.verify(token(roles=["read", "write"])).role is Role.TRAINER
    assert verifier.verify(token(roles=["admin"])).role is Role.ADMIN
    claims = verifier.verify(token(roles=["something-else"]))
    assert (claims.subject, claims.role) == ("ada", None)
    scoped = TokenVerifier(hs256(jwt_role_claim="scope", jwt_role_map="sw:write=trainer"))
    assert scoped.verify(token(scope="openid sw:write")).role is Role.TRAINER


@pytest.mark.parametrize(
    ("made", "reason"),
    [
        (lambda: token(key="another-secret-of-at-least-32-bytes"), "Signature"),
        (lambda: token(aud="someone-else"), "audience"),
        (lambda: token(iss="https://evil.example"), "issuer"),
        (lambda: token(exp=datetime.now(UTC) - timedelta(minutes=5)), "expired"),
        (lambda: token(sub=None), "sub"),
        (lambda: jwt.encode({"sub": "ada", "iss": ISSUER}, "", "none"), "HS256"),
        (lambda: "not.a.token", "Invalid"),
    ],
)
def test_bad_tokens_are_refused_with_the_reason(made: Any, reason: str) -> None:
    with pytest.raises(TokenError, match=f"(?i){reason}"):
        TokenVerifier(hs256()).verify(made())


def test_clock_skew_is_allowed_up_to_the_leeway() -> None:
    just_expired = token(exp=datetime.now(UTC) - timedelta(seconds=10))
    assert TokenVerifier(hs256(jwt_leeway_s=30)).verify(just_expired).subject == "ada"
    with pytest.raises(TokenError):
        TokenVerifier(hs256(jwt_leeway_s=0)).verify(just_expired)


def test_public_keys_come_from_a_jwks_and_an_hmac_cannot_pose_as_one(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = [
        json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key())) | {"kid": "r1", "alg": "RS256"},
        json.loads(ECAlgorithm.to_jwk(ec_key.public_key())) | {"kid": "e1", "alg": "ES256"},
    ]
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": keys}))
    settings = ServiceSettings(
        auth="jwt", jwt_jwks_file=jwks, jwt_issuer=ISSUER, jwt_audience=AUDIENCE
    )
    verifier = TokenVerifier(settings)
    assert verifier.verify(token(rsa_key, "RS256", kid="r1", roles=["admin"])).role is Role.ADMIN
    assert verifier.verify(token(ec_key, "ES256", kid="e1")).subject == "ada"
    with pytest.raises(TokenError, match="no key"):
        verifier.verify(token(rsa_key, "RS256", kid="gone"))
    with pytest.raises(TokenError, match="RS256 or ES256"):
        verifier.verify(token(SECRET, "HS256", kid="r1"))  # an HMAC token against public keys


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    chain = b"6.6.6.6, 203.0.113.9, 10.0.0.7"
    assert client_address("10.0.0.2", chain, proxies) == "203.0.113.9"
    assert client_address("198.51.100.1", chain, proxies) == "198.51.100.1"  # not a proxy
    assert client_address("10.0.0.2", None, proxies) == "10.0.0.2"
    assert client_address("10.0.0.2", chain, ()) == "10.0.0.2"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"auth": "password"}, "auth must be"),
        ({"auth": "none,jwt"}, "auth must be"),
        ({"auth": "jwt", "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}, "exactly one of"),
        ({"auth": "jwt", "jwt_secret": SECRET}, "JWT_ISSUER and JWT_AUDIENCE"),
        ({"jwt_role_map": "read=superuser"}, "JWT_ROLE_MAP"),
        ({"trusted_proxies": "10.0.0.0/33"}, "TRUSTED_PROXIES"),
        ({"admin_api_key": "short"}, "ADMIN_API_KEY"),
    ],
)
def test_inconsistent_access_settings_stop_start_up(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(ServiceSettings, **env)


def test_serving_beyond_loopback_needs_authentication_or_a_deliberate_choice() -> None:
    off = ServiceSettings()
    assert exposure_refusal("127.0.0.1", off) is None
    assert exposure_refusal("localhost", off) is None
    assert exposure_refusal("::1", off) is None
    refusal = exposure_refusal("0.0.0.0", off)  # noqa: S104
    assert refusal is not None
    assert "SIGMAWATCH_AUTH" in refusal
    assert exposure_refusal("0.0.0.0", ServiceSettings(auth="api_key")) is None  # noqa: S104
    deliberate = ServiceSettings(allow_unauthenticated=True)
    assert exposure_refusal("10.1.2.3", deliberate) is None


def test_the_key_cache_forgets_on_revocation_and_after_its_lifetime() -> None:
    record = ApiKeyRecord("k", Role.VIEWER, "swk_abcdef", datetime.now(UTC), "cli/test")
    cache = KeyCache(ttl_s=0.2)
    assert cache.get("h") == (False, None)
    generation = cache.generation
    cache.put("h", record, generation)
    assert cache.get("h") == (True, record)
    cache.clear()
    cache.put("h", record, generation)  # a lookup begun before the revocation
    assert cache.get("h") == (False, None)
    cache.put("h", None, cache.generation)
    assert cache.get("h") == (True, None)  # unknown keys are remembered too
    time.sleep(0.25)
    assert cache.get("h") == (False, None)
    cache.used("h")
    assert list(cache.take_used()) == ["h"]
    assert cache.take_used() == {}


def test_concurrent_requests_with_an_uncached_key_look_it_up_once(tmp_path: Path) -> None:
    """A busy key whose cache entry expired costs one registry query, not one per request."""
    memory = MemoryRegistry()
    key, new = new_api_key("busy", "viewer", None, "test")
    memory.create_api_key(new)
    spy = SpyRegistry(memory)
    spy.before["api_key"] = lambda *_: time.sleep(0.05)  # a query that takes a while
    settings = ServiceSettings(data_dir=tmp_path, auth="api_key")
    identify = Identify(settings, KeyCache(5.0), lambda: cast(Registry, spy))

    async def many() -> list[Principal]:
        return await asyncio.gather(*(identify.principal(key.encode(), None) for _ in range(50)))

    principals = run_async(many())
    assert {p.name for p in principals} == {"key/busy"}
    assert spy.calls["api_key"] == 1
    run_async(identify.principal(key.encode(), None))  # now cached
    assert spy.calls["api_key"] == 1
