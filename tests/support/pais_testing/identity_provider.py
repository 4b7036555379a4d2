"""A small OAuth 2.0 identity provider on loopback: RS256 keys, a JWKS, and a token endpoint.

Keys are generated at start (`cryptography`) and tokens signed with PyJWT. The token endpoint
(`POST /token`, form-encoded) grants:

- `client_credentials` for the clients registered in `clients` (the agent's own token: `sub` = client id);
- RFC 8693 `urn:ietf:params:oauth:grant-type:token-exchange`: the subject token must be one this
  provider signed; the issued token keeps the subject's `sub`, names the actor (`act.sub`, from an
  optional `actor_token`) and has the requested `audience`. Every exchange is recorded in `exchanges`.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from types import TracebackType
from typing import Any, Self

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .threaded_server import ThreadedServer

__all__ = ["EXCHANGE_GRANT", "IdentityProvider"]

EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
_ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


class IdentityProvider:
    """Issues RS256 tokens as `issuer`; `jwks_url` and `token_url` are valid while started."""

    def __init__(self, *, clients: dict[str, str] | None = None, exchange_ttl: int = 300) -> None:
        self.clients = dict(clients or {})
        self.exchange_ttl = exchange_ttl
        self.exchanges: list[dict[str, Any]] = []
        self.jwks_reads = 0
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self._lock = threading.Lock()
        self.rotate()
        app = Starlette(routes=[Route("/jwks", self._jwks), Route("/token", self._token, methods=["POST"])])
        self._server = ThreadedServer(app)
        self.issuer = self._server.base_url
        self.jwks_url = f"{self._server.base_url}/jwks"
        self.token_url = f"{self._server.base_url}/token"

    def rotate(self) -> str:
        """Add a new signing key (the old ones stay published); returns its key id."""
        kid = f"key-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self._keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.current_kid = kid
        return kid

    def issue(
        self,
        subject: str,
        *,
        audience: str,
        issuer: str | None = None,
        expires_in: int = 300,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """A signed token for `subject`; negative `expires_in` gives an expired one."""
        now = int(time.time())
        payload = {
            "iss": issuer or self.issuer,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        key_id = kid or self.current_kid
        return jwt.encode(payload, self._keys[key_id], algorithm="RS256", headers={"kid": key_id})

    def decode(self, token: str, *, audience: str) -> dict[str, Any]:
        """The claims of a token this provider signed for `audience` (raises if it did not)."""
        kid = jwt.get_unverified_header(token)["kid"]
        return jwt.decode(token, self._keys[kid].public_key(), algorithms=["RS256"], audience=audience)

    async def _jwks(self, request: Request) -> JSONResponse:
        self.jwks_reads += 1
        with self._lock:
            keys = [
                {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "use": "sig"}
                for kid, key in self._keys.items()
            ]
        return JSONResponse({"keys": keys})

    async def _token(self, request: Request) -> JSONResponse:
        form = await request.form()
        grant = form.get("grant_type")
        client = self._client(request, form)
        if client is None:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if grant == "client_credentials":
            audience = str(form.get("audience") or self.issuer)
            return self._granted(self.issue(client, audience=audience, expires_in=self.exchange_ttl))
        if grant != EXCHANGE_GRANT:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        audience = str(form.get("audience") or "")
        try:
            subject = self._verified(str(form.get("subject_token") or ""))
            actor = self._verified(str(form["actor_token"])) if form.get("actor_token") else None
        except (jwt.InvalidTokenError, KeyError):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        self.exchanges.append({"subject": subject["sub"], "actor": actor and actor["sub"], "audience": audience})
        claims: dict[str, Any] = {"act": {"sub": actor["sub"]}} if actor else {}
        token = self.issue(subject["sub"], audience=audience, expires_in=self.exchange_ttl, **claims)
        return self._granted(token, issued_token_type=_ACCESS_TOKEN)

    def _client(self, request: Request, form: Any) -> str | None:
        """The authenticated client (HTTP Basic or form credentials); `""` for a public exchange."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client_id, secret = str(form.get("client_id") or ""), str(form.get("client_secret") or "")
        if not client_id:
            return ""
        return client_id if self.clients.get(client_id) == secret else None

    def _verified(self, token: str) -> dict[str, Any]:
        kid = str(jwt.get_unverified_header(token).get("kid"))
        with self._lock:
            key = self._keys[kid]
        return jwt.decode(token, key.public_key(), algorithms=["RS256"], options={"verify_aud": False})

    def _granted(self, token: str, **extra: str) -> JSONResponse:
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.exchange_ttl, **extra}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
