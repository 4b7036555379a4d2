"""Identity: verifying callers (JWT/JWKS) and the credentials outbound calls carry."""

from ._access import ALL, NOTHING, SessionAccess
from ._jwks import InvalidTokenError, JwtVerifier

__all__ = ["ALL", "NOTHING", "InvalidTokenError", "JwtVerifier", "SessionAccess"]
