"""`/api/secrets*`: the secrets store (admin only). A value goes in and never comes out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from voxie_app.api.deps import AdminDep
from voxie_app.db import session_scope
from voxie_app.services import secrets as secrets_svc

router = APIRouter(prefix="/secrets", tags=["secrets"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such secret"}}


class SecretPut(BaseModel):
    """`POST /api/secrets`: create a secret, or replace the value of one of that name."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: str = Field(
        max_length=64,
        description=f"{secrets_svc.NAME_RULE}; tools refer to it as `{{{{secret:NAME}}}}`.",
        json_schema_extra={"pattern": secrets_svc.NAME_RE.pattern},
    )
    # Any (the schema says string): pydantic never refuses it, so no validation error can
    # echo it back; the service checks it is one line of text. Out of the repr too.
    value: Annotated[
        Any,
        WithJsonSchema(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": secrets_svc.MAX_VALUE,
                "pattern": secrets_svc.VALUE_PATTERN,
            }
        ),
    ] = Field(repr=False, description="The value, one line; stored encrypted, never returned.")


class SecretPublic(BaseModel):
    name: str
    created_at: datetime
    updated_at: datetime


def _public(info: secrets_svc.SecretInfo) -> SecretPublic:
    return SecretPublic(name=info.name, created_at=info.created_at, updated_at=info.updated_at)


@router.post(
    "",
    response_model=SecretPublic,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "an existing secret's value was replaced"}},
)
def put_secret(body: SecretPut, response: Response, _: AdminDep) -> SecretPublic:
    """Store a secret (201), or replace the value of the one with that name (200)."""
    with session_scope() as session:
        info, created = secrets_svc.put(session=session, name=body.name, value=body.value)
    if not created:
        response.status_code = status.HTTP_200_OK
    return _public(info)


@router.get("", response_model=list[SecretPublic])
def list_secrets(_: AdminDep) -> list[SecretPublic]:
    """Names and times only."""
    with session_scope() as session:
        return [_public(i) for i in secrets_svc.list_all(session=session)]


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=_NOT_FOUND
)
def delete_secret(name: Annotated[str, Path(max_length=64)], _: AdminDep) -> Response:
    with session_scope() as session:
        secrets_svc.delete(session=session, name=name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
