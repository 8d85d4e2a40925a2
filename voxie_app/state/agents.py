"""Agents: list and search; create, edit, duplicate and delete through services."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import reflex as rx
import sqlalchemy as sa

from voice_worker import voice_sample
from voxie_app import languages, routes, voices
from voxie_app import provider_catalog as catalog
from voxie_app.db import session_scope
from voxie_app.models import ALLOWED_TOOLS, MAX_TRANSFER_NUMBERS, TRANSFER_MODES, AgentSpec
from voxie_app.services import agent_creation, knowledge, llm_models, reports
from voxie_app.services import agents as agents_svc
from voxie_app.services import tools as tools_svc
from voxie_app.services.errors import InvalidInput, NotFound
from voxie_app.settings import get_settings, providers
from voxie_app.state import agent_form, fmt, guard
from voxie_app.state.base import AppState

CUSTOM_MODEL = "__custom__"  # the model picker's "type a name" choice
FORM_TOAST = "agent-form-errors"  # one toast id: a new round replaces the last
PAGE_SIZE = 24  # a grid of 1, 2 or 3 columns: whole rows at every width


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


class AgentsState(AppState):
    search: str = ""
    rows: list[dict[str, Any]] = []
    loaded: bool = False
    page: int = 0
    total: int = 0

    form_open: bool = False
    editing_id: str = ""
    form: dict[str, str] = {}
    form_tools: list[str] = []
    # Stored tools (HTTP and MCP) this agent may call, by id, and the picker's rows.
    form_custom_tools: list[str] = []
    tool_choices: list[dict[str, str]] = []
    form_targets: list[dict[str, str]] = []
    # People a phone call may be handed to: rows of label, number, when, mode.
    form_numbers: list[dict[str, str]] = []
    target_choices: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    saving: bool = False
    # Pickers: what the configured providers offer (the agent's current values kept).
    voice_options: list[dict[str, str]] = []
    language_options: list[dict[str, str]] = []
    model_options: list[str] = []
    # Per kind, the providers to pick from ({value, label}; unconfigured ones marked).
    provider_options: dict[str, list[dict[str, str]]] = {}
    model_custom: bool = False
    can_preview: bool = False
    sample_url: str = ""
    sample_loading: bool = False

    delete_open: bool = False
    delete_id: str = ""
    delete_name: str = ""

    # ------------------------------------------------------------------ list

    def _reload(self) -> rx.event.EventSpec | None:
        tz = self._tz()
        try:
            with session_scope() as session:
                search = self.search or None
                self.total = reports.count_agents(session=session, search=search)
                last_page = max(0, -(-self.total // PAGE_SIZE) - 1)
                self.page = min(self.page, last_page)
                rows = reports.agents_overview(
                    session=session,
                    search=search,
                    limit=PAGE_SIZE,
                    offset=self.page * PAGE_SIZE,
                )
        except sa.exc.SQLAlchemyError as exc:
            self.loaded = True
            return self._db_failed(exc)
        self.rows = [
            {
                "id": str(r.id),
                "name": r.name,
                "description": r.description,
                "status": r.status,
                "status_color": fmt.status_color(r.status),
                "error": r.error or "",
                "ready": r.status == "ready",
                "calls": fmt.number(r.calls),
                "calls_text": fmt.count(r.calls, "call"),
                "last_call": fmt.when(r.last_call_at, tz) if r.last_call_at else "never",
                "href": routes.agent(str(r.id)),
                "chat_href": routes.agent_chat(str(r.id)),
                "call_href": routes.call_agent(str(r.id)),
            }
            for r in rows
        ]
        self.loaded = True
        return None

    @rx.event
    @guard.viewer
    def load(self):
        """`/agents` (`?edit=<id>` opens that agent's form, as the agent page links)."""
        self.form_open = False
        self.delete_open = False
        self.page = 0
        result = self._reload()
        if edit := self._query("edit"):
            return self._edit(edit) or result
        return result

    @rx.event
    @guard.viewer
    def load_new(self):
        """`/agents/new`: the list with the create form open."""
        result = self._reload()
        self._open_form(None)
        return result

    @rx.event
    @guard.viewer
    def set_search(self, value: str):
        self.search = value[:80]
        self.page = 0
        return self._reload()

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def range_text(self) -> str:
        if self.total == 0:
            return "No agents"
        first = self.page * PAGE_SIZE + 1
        last = min(self.total, first + PAGE_SIZE - 1)
        return f"{first:,} to {last:,} of {fmt.count(self.total, 'agent')}"

    @rx.event
    @guard.viewer
    def next_page(self):
        if (self.page + 1) * PAGE_SIZE < self.total:
            self.page += 1
            return self._reload()
        return None

    @rx.event
    @guard.viewer
    def prev_page(self):
        if self.page > 0:
            self.page -= 1
            return self._reload()
        return None

    # ------------------------------------------------------------------ form

    def _open_form(self, spec: dict[str, Any] | None, agent_id: str = "") -> None:
        if spec is None:
            self.form = agent_form.blank_form()
            self.form_tools = agent_form.blank_tools()
            self.form_targets = []
            self.form_custom_tools = []
            self.form_numbers = []
        else:
            self.form, self.form_tools, self.form_targets = agent_form.form_from_spec(spec)
            self.form_custom_tools = agent_form.custom_tools_from_spec(spec)
            self.form_numbers = agent_form.numbers_from_spec(spec)
        self._fill_tool_choices()
        self.editing_id = agent_id
        self.errors = {}
        self.saving = False
        self._fill_pickers()
        self.target_choices = [
            {"id": str(i), "name": name} for i, name in self._choices() if str(i) != agent_id
        ]
        self.form_open = True

    def _fill_pickers(self) -> None:
        settings = get_settings()
        status = providers(settings)
        self.voice_options = [
            {"value": c.value, "label": c.label}
            for c in voices.voice_choices(status, self.form.get("voice", ""))
        ]
        self.language_options = [
            {"value": code, "label": label}
            for code, label in languages.language_choices(self.form.get("language", ""))
        ]
        self.model_options = llm_models.model_choices(
            settings, self.form.get("llm_model", ""), provider=self.form.get("llm_provider", "")
        )
        self.provider_options = {
            kind: agent_form.provider_options(settings, kind) for kind in ("stt", "llm", "tts")
        }
        self.model_custom = False
        self.can_preview = voices.can_preview(status)
        self.sample_url = ""
        self.sample_loading = False

    def _fill_tool_choices(self) -> None:
        try:
            with session_scope() as session:
                stored = tools_svc.list_tools(session=session)
                self.tool_choices = agent_form.tool_choices(stored, self.form_custom_tools)
        except sa.exc.SQLAlchemyError:
            self.tool_choices = agent_form.tool_choices([], self.form_custom_tools)

    def _choices(self) -> list[tuple[uuid.UUID, str]]:
        try:
            with session_scope() as session:
                return reports.agent_choices(session=session, tz=self._tz())
        except sa.exc.SQLAlchemyError:
            return []

    @rx.event
    @guard.viewer
    def open_create(self):
        self._open_form(None)

    @rx.event
    @guard.viewer
    def open_edit(self, agent_id: str):
        return self._edit(agent_id)

    def _edit(self, agent_id: str) -> rx.event.EventSpec | None:
        parsed = _uuid(agent_id)
        try:
            with session_scope() as session:
                agent = agents_svc.get_agent(session=session, agent_id=parsed or uuid.uuid4())
                spec = dict(agent.processed_spec or {})
                spec.setdefault("name", agent.name)
        except NotFound:
            return self._toast_error("That agent no longer exists.")
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        self._open_form(spec, agent_id)
        return None

    @rx.event
    @guard.viewer
    def set_form_open(self, value: bool):
        self.form_open = value
        if not value:
            self.errors = {}
            self.sample_url = ""

    @rx.event
    @guard.viewer
    def set_field(self, key: str, value: str):
        if key in agent_form.TEXT_FIELDS or key in agent_form.CHOICE_FIELDS:
            self.form = {**self.form, key: value}
            # Hang up needs no message: the policy's change clears the message's error.
            cleared = {key, "voicemail_message"} if key == "voicemail_policy" else {key}
            self.errors = {k: v for k, v in self.errors.items() if k not in cleared}
        if key in agent_form.CHOICE_FIELDS:
            self._set_choice(key, value)
        if key in ("voice", "language"):
            self.sample_url = ""  # the sample was of the previous choice

    def _set_choice(self, key: str, value: str) -> None:
        """A provider picked: its kind's model follows it (the LLM's becomes the vendor's
        default, a speech model is cleared, as `auto` names none)."""
        form = {**self.form, key: value}
        if key == "llm_provider":
            settings = get_settings()
            form["llm_model"] = catalog.default_model("llm", value, settings)
            self.model_options = llm_models.model_choices(settings, "", provider=value)
            self.model_custom = False
        elif key in ("stt_provider", "tts_provider"):
            form[key.replace("provider", "model")] = ""
        self.form = form
        stale = {key, key.replace("provider", "model"), "llm_model"}
        self.errors = {k: v for k, v in self.errors.items() if k not in stale}

    @rx.event
    @guard.viewer
    def pick_model(self, value: str):
        """A listed model, or CUSTOM_MODEL: type a name (the current one kept to edit)."""
        if value == CUSTOM_MODEL:
            self.model_custom = True
            return
        self.model_custom = False
        self.form = {**self.form, "llm_model": value}
        self.errors = {k: v for k, v in self.errors.items() if k != "llm_model"}

    @rx.event
    async def play_sample(self):
        """Speak a short sentence in the picked voice with the configured TTS (admins only)."""
        if self.sample_loading:
            return
        voice, language = self.form.get("voice", ""), self.form.get("language", "")
        self.sample_loading = True
        yield
        try:
            wav = await voice_sample.voice_sample(
                voice=voice, language=language, settings=get_settings()
            )
        except voice_sample.ProviderMissing as exc:
            self.sample_loading = False
            yield self._toast_error(f"No sample: {exc.message}.")
            return
        except voice_sample.SampleFailed as exc:
            self.sample_loading = False
            yield self._toast_error(f"No sample: {exc.message}.")
            return
        except ValueError:
            self.sample_loading = False
            yield self._toast_error("Pick a voice and a language first.")
            return
        self.sample_loading = False
        self.sample_url = "data:audio/wav;base64," + base64.b64encode(wav).decode()

    @rx.event
    @guard.viewer
    def toggle_tool(self, tool: str, checked: bool):
        if tool not in ALLOWED_TOOLS:
            return
        tools = [t for t in self.form_tools if t != tool]
        if checked:
            tools.append(tool)
        self.form_tools = [t for t in ALLOWED_TOOLS if t in tools]
        self.errors = {k: v for k, v in self.errors.items() if k != "tools"}

    @rx.event
    @guard.viewer
    def toggle_custom_tool(self, tool_id: str, checked: bool):
        """Tick or untick a stored tool (only ids the picker lists; order as listed)."""
        listed = [c["id"] for c in self.tool_choices]
        if tool_id not in listed:
            return
        ticked = {t for t in self.form_custom_tools if t != tool_id}
        if checked:
            ticked.add(tool_id)
        self.form_custom_tools = [i for i in listed if i in ticked]
        self.errors = {k: v for k, v in self.errors.items() if k != "custom_tools"}

    @rx.event
    @guard.viewer
    def add_target(self):
        if len(self.form_targets) < 10:
            first = self.target_choices[0]["id"] if self.target_choices else ""
            self.form_targets = [*self.form_targets, {"agent_id": first, "when": ""}]
            if "transfer_to_agent" not in self.form_tools:
                self.form_tools = [
                    t for t in ALLOWED_TOOLS if t in [*self.form_tools, "transfer_to_agent"]
                ]

    @rx.event
    @guard.viewer
    def remove_target(self, index: int):
        self.form_targets = [t for i, t in enumerate(self.form_targets) if i != index]

    @rx.event
    @guard.viewer
    def set_target(self, index: int, key: str, value: str):
        if key not in ("agent_id", "when"):
            return
        self.form_targets = [
            {**t, key: value} if i == index else t for i, t in enumerate(self.form_targets)
        ]
        self.errors = {k: v for k, v in self.errors.items() if k != "transfer_targets"}

    @rx.event
    @guard.viewer
    def add_number(self):
        if len(self.form_numbers) < MAX_TRANSFER_NUMBERS:
            self.form_numbers = [*self.form_numbers, agent_form.blank_number()]

    @rx.event
    @guard.viewer
    def remove_number(self, index: int):
        self.form_numbers = [n for i, n in enumerate(self.form_numbers) if i != index]
        self.errors = {k: v for k, v in self.errors.items() if k != "transfer_numbers"}

    @rx.event
    @guard.viewer
    def set_number(self, index: int, key: str, value: str):
        """One cell of a transfer-number row (only the row's keys; modes as listed)."""
        if key not in agent_form.NUMBER_ROW_KEYS:
            return
        if key == "mode" and value not in TRANSFER_MODES:
            return
        self.form_numbers = [
            {**n, key: value} if i == index else n for i, n in enumerate(self.form_numbers)
        ]
        self.errors = {k: v for k, v in self.errors.items() if k != "transfer_numbers"}

    def _references(self, spec: AgentSpec) -> list[InvalidInput]:
        """The database's rules for the spec (transfer targets), all at once."""
        agent_id = _uuid(self.editing_id) if self.editing_id else None
        try:
            with session_scope() as session:
                return agents_svc.reference_problems(session=session, spec=spec, agent_id=agent_id)
        except sa.exc.SQLAlchemyError:
            return []  # the save itself reports the database failure

    def _show_errors(self, errors: dict[str, str]) -> list[rx.event.EventSpec]:
        """Every field's message at once, the first field in view, one toast (not a pile)."""
        self.errors = errors
        self.saving = False
        count = len(errors)
        message = (
            "Please fix the highlighted field."
            if count == 1
            else f"Please fix the {count} highlighted fields."
        )
        return [
            rx.toast.dismiss(),
            rx.scroll_to(f"agent-field-{agent_form.first_field(errors)}"),
            rx.toast.error(message, id=FORM_TOAST, close_button=True, duration=6000),
        ]

    @rx.event
    def save(self):
        spec, errors = agent_form.validate_form(
            self.form,
            self.form_tools,
            self.form_targets,
            references=self._references,
            custom_tools=self.form_custom_tools,
            numbers=self.form_numbers,
        )
        if errors:
            return self._show_errors(errors)
        self.saving = True
        editing = self.editing_id
        try:
            if editing:
                with session_scope() as session:
                    agents_svc.update_agent(
                        session=session,
                        agent_id=_uuid(editing) or uuid.uuid4(),
                        spec_changes=spec,
                    )
            else:
                agent_creation.submit(
                    user_requirements={"created_with": "form", "description": spec["description"]},
                    processed_spec=spec,
                )
        except agents_svc.SpecInvalid as exc:
            return self._show_errors(agent_form.errors_from_spec(exc.errors))
        except InvalidInput as exc:
            return self._show_errors(agent_form.error_from_invalid(exc))
        except NotFound:
            self.saving = False
            self.form_open = False
            return [self._toast_error("That agent no longer exists."), AgentsState.load]
        except sa.exc.SQLAlchemyError as exc:
            self.saving = False
            return self._db_failed(exc)
        self.saving = False
        self.form_open = False
        self.errors = {}
        self._reload()
        verb = "updated" if editing else "created"
        return [rx.toast.dismiss(FORM_TOAST), self._toast_ok(f"Agent '{spec['name']}' {verb}.")]

    # ------------------------------------------------------ duplicate, delete

    @rx.event
    def duplicate(self, agent_id: str):
        try:
            with session_scope() as session:
                agent = agents_svc.get_agent(
                    session=session, agent_id=_uuid(agent_id) or uuid.uuid4()
                )
                if agent.status != "ready":
                    return self._toast_error("Only a ready agent can be duplicated.")
                spec = dict(agent.processed_spec)
                requirements = dict(agent.user_requirements or {})
            spec["name"] = agent_form.copy_name(str(spec.get("name") or agent.name))
            copy = agent_creation.submit(
                user_requirements={**requirements, "duplicated_from": agent_id},
                processed_spec=spec,
            )
        except NotFound:
            self._reload()
            return self._toast_error("That agent no longer exists.")
        except (agents_svc.SpecInvalid, InvalidInput) as exc:
            return self._toast_error(f"Could not duplicate: {exc}")
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        self._reload()
        return self._toast_ok(f"Created '{copy.name}'.")

    @rx.event
    @guard.viewer
    def ask_delete(self, agent_id: str, name: str):
        self.delete_id, self.delete_name, self.delete_open = agent_id, name, True

    @rx.event
    @guard.viewer
    def set_delete_open(self, value: bool):
        self.delete_open = value

    @rx.event
    def confirm_delete(self):
        agent_id, name = self.delete_id, self.delete_name
        self.delete_open = False
        try:
            knowledge.delete_agent(agent_id=_uuid(agent_id) or uuid.uuid4())
        except NotFound:
            pass
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        self._reload()
        if self.router.url.path != routes.AGENTS:
            return [rx.redirect(routes.AGENTS), self._toast_ok(f"Deleted '{name}'.")]
        return self._toast_ok(f"Deleted '{name}'.")
