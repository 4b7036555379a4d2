"""Verify signed JWT bearer tokens against the identity provider's JWKS (`AUTH_JWKS_URL`)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from typing import Any, cast

import httpx
import jwt

from pais_core import API_KEY_PRINCIPAL, AuthenticationError, DependencyUnavailableError, Principal, Settings

__all__ = ["InvalidTokenError", "JwtVerifier"]

_REFRESH_AT_MOST_EVERY = 1.0
"""Seconds between JWKS reads triggered by unknown key ids (a flood of forged `kid`s costs one read a second)."""
_CACHED_TOKENS = 10_000
"""Verified tokens remembered (by digest, until they expire), so a caller's next request skips the signature check."""
_LEEWAY = 30.0
"""Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds."""


class InvalidTokenError(AuthenticationError):
    """The bearer token is not one this agent accepts; the message says why, never what it was."""

    code = "invalid_token"


class JwtVerifier:
    """Checks signature, expiry, issuer and audience; the principal comes from `principal_claim`.

    A token naming a `reserved` principal (the static key's `api-key`, the agent itself) is refused:
    a token cannot open what the static key or the agent's own runs started.

    A verified token is remembered (by digest) until it expires. Keys are read from the JWKS on
    first use and cached; a token naming a key id the cache does not hold makes it read the JWKS
    again (at most once a second), so key rotation needs no restart.
    """

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        algorithms: list[str],
        principal_claim: str = "sub",
        admin_claim: str | None = None,
        reserved: frozenset[str] = frozenset(),
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.algorithms = algorithms
        self.principal_claim = principal_claim
        self.reserved = reserved
        claim, _, value = (admin_claim or "").partition("=")
        self._admin_claim, self._admin_value = claim or None, value or None
        self._http = http
        self._keys: dict[str, jwt.PyJWK] = {}
        self._verified: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtVerifier | None:
        """The verifier `AUTH_*` describes, or None without `AUTH_JWKS_URL`."""
        if settings.auth_jwks_url is None:
            return None
        return cls(
            jwks_url=settings.auth_jwks_url,
            issuer=settings.auth_issuer or "",  # both required with AUTH_JWKS_URL (checked by Settings)
            audience=settings.auth_audience or "",
            algorithms=settings.jwt_algorithms,
            principal_claim=settings.auth_principal_claim,
            admin_claim=settings.auth_admin_claim,
            reserved=frozenset({API_KEY_PRINCIPAL.id, settings.agent_identity}),
        )

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token.

        Raises:
            InvalidTokenError: malformed, badly signed, expired, or for another issuer or audience.
            DependencyUnavailableError: the JWKS cannot be read.
        """
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._verified.get(digest)
        if cached is not None and time.time() < cached[0]:
            return cached[1]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidTokenError("invalid token: not a signed JWT") from None
        if header.get("alg") not in self.algorithms:
            raise InvalidTokenError(f"invalid token: algorithm {header.get('alg')!r} is not accepted")
        key = await self._key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=_LEEWAY,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("invalid token: expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidTokenError("invalid token: wrong audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidTokenError("invalid token: wrong issuer") from None
        except jwt.InvalidSignatureError:
            raise InvalidTokenError("invalid token: bad signature") from None
        except jwt.InvalidTokenError as exc:
            raise InvalidTokenError(f"invalid token: {_reason(exc)}") from None
        principal = claims.get(self.principal_claim)
        if not isinstance(principal, str) or not principal:
            raise InvalidTokenError(f"invalid token: no {self.principal_claim!r} claim")
        if principal in self.reserved:
            raise InvalidTokenError(f"invalid token: the principal {principal!r} is reserved")
        verified = Principal(id=principal, token=token, admin=self._is_admin(claims))
        self._verified[digest] = (float(claims["exp"]), verified)
        while len(self._verified) > _CACHED_TOKENS:
            self._verified.popitem(last=False)
        return verified

    def _is_admin(self, claims: dict[str, Any]) -> bool:
        if self._admin_claim is None:
            return False
        found = claims.get(self._admin_claim)
        if self._admin_value is None:
            return found is True
        if isinstance(found, str):
            return self._admin_value in found.split()
        return isinstance(found, list) and self._admin_value in cast(list[Any], found)

    async def _key(self, kid: object) -> jwt.PyJWK:
        name = kid if isinstance(kid, str) else ""
        if name not in self._keys:
            async with self._lock:  # also waits for a read under way
                if name not in self._keys and self._may_read():
                    await self._read()
        key = self._keys.get(name)
        if key is None:
            raise InvalidTokenError("invalid token: signed with an unknown key")
        return key

    def _may_read(self) -> bool:
        return self._read_at is None or time.monotonic() - self._read_at >= _REFRESH_AT_MOST_EVERY

    async def _read(self) -> None:
        self._read_at = time.monotonic()
        try:
            if self._http is None or self._http.is_closed:
                self._http = httpx.AsyncClient(timeout=5.0)
            response = await self._http.get(self.jwks_url)
            response.raise_for_status()
            jwks = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
            raise DependencyUnavailableError("jwks", f"cannot read the JWKS at {self.jwks_url}: {exc}") from None
        keys = [key for key in jwks.keys if key.public_key_use in (None, "sig")]
        self._keys = {key.key_id or "": key for key in keys}

    async def aclose(self) -> None:
        """Close the JWKS client (a later read opens a new one)."""
        if self._http is not None:
            await self._http.aclose()


def _reason(exc: jwt.InvalidTokenError) -> str:
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"no {exc.claim!r} claim"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "not valid yet"
    return "malformed"
