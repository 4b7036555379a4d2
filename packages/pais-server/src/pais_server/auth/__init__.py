"""Identity: verifying callers (JWT/JWKS) and the credentials outbound calls carry."""

from ._jwks import InvalidTokenError, JwtVerifier

__all__ = ["InvalidTokenError", "JwtVerifier"]
