"""State of the home page: today's numbers and which providers are configured."""

from __future__ import annotations

import reflex as rx

from voxie_app.db import session_scope
from voxie_app.services import analytics
from voxie_app.settings import get_settings, providers


class HomeState(rx.State):
    total_calls: int = 0
    total_minutes: float = 0.0
    total_cost: str = "$0.00"
    agents_hint: str = ""
    providers: dict[str, bool] = {}
    error: str = ""

    @rx.event
    def load(self) -> None:
        settings = get_settings()
        status = providers(settings)
        self.providers = {
            "OpenAI (LLM)": status.openai,
            "Deepgram (STT)": status.deepgram,
            "Cartesia (TTS)": status.cartesia,
            "Ragie (knowledge)": status.ragie,
            "LiveKit (calls)": status.livekit,
        }
        try:
            with session_scope() as session:
                s = analytics.summary(session=session, tz=settings.timezone)
        except Exception:  # noqa: BLE001 - the page shows the problem instead of crashing
            self.error = "The database is not reachable; check DATABASE_URL."
            return
        self.total_calls = s.total_calls
        self.total_minutes = s.total_minutes
        self.total_cost = f"${s.total_cost_usd:.2f}"
