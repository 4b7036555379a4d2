"""Identity: verifying callers (JWT/JWKS) and the credentials outbound calls carry."""

from ._access import ALL, NOTHING, SessionAccess
from ._jwks import InvalidTokenError, JwtVerifier
from ._outbound import AgentToken, Credentials, TargetCredentials, TokenExchange

__all__ = [
    "ALL",
    "NOTHING",
    "AgentToken",
    "Credentials",
    "InvalidTokenError",
    "JwtVerifier",
    "SessionAccess",
    "TargetCredentials",
    "TokenExchange",
]
