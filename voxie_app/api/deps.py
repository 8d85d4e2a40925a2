"""Dependencies shared by every route: who is calling, and the settings.

`require_access` is the one gate every protected route passes: a valid
`Authorization: Bearer <API key>` (401 without one, with a revoked or unknown
key), and the `admin` role for anything but reading (403 for a viewer key on
a write). Keys are created on `/settings` and stored hashed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from voxie_app.db import session_scope
from voxie_app.services import auth
from voxie_app.services.auth import Principal
from voxie_app.settings import Settings, get_settings

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False, description="An API key created on /settings")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"}
    )


def authenticate(authorization: str | None, method: str) -> Principal:
    """Who sends `authorization` (the raw header), allowed to use `method`; else 401/403.

    Blocking (one database read): `ApiGate` runs it in a thread before the route
    reads the body, so a request without a valid key never has its body parsed.
    """
    scheme, _, raw = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise _unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    with session_scope() as session:
        principal = auth.api_key_principal(session=session, raw=raw.strip())
    if principal is None:
        raise _unauthorized("this API key is not valid (unknown or revoked)")
    if method not in READ_METHODS and not principal.can("admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this key may only read")
    return principal


def require_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of a protected route (already authenticated by `ApiGate` when it runs
    in front; the check here keeps a route safe without it). The `credentials`
    parameter documents the bearer scheme in the OpenAPI schema."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        principal = authenticate(request.headers.get("authorization"), request.method)
        request.state.principal = principal
    return principal


def require_admin(principal: Annotated[Principal, Depends(require_access)]) -> Principal:
    if not principal.can("admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="admin role required")
    return principal


SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(require_access)]
AdminDep = Annotated[Principal, Depends(require_admin)]
