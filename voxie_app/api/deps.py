"""Dependencies shared by every route: who is calling, and the settings.

`require_access` is the one gate all routes pass through. It lets everyone in
for now; real accounts and API keys replace its body without touching routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from voxie_app.settings import Settings, get_settings


@dataclass(frozen=True)
class Principal:
    name: str
    role: str  # "admin" or "viewer"


async def require_access() -> Principal:
    return Principal(name="anonymous", role="admin")


SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(require_access)]
