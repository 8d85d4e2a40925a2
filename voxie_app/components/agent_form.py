"""The create/edit agent dialog: every `AgentSpec` field, with a message per field."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import ui
from voxie_app.models import ALLOWED_TOOLS, MAX_TRANSFER_NUMBERS
from voxie_app.state.agent_form import (
    FORM_ERROR,
    MODE_LABELS,
    PIPELINE_LABELS,
    REALTIME_MODEL_OPTIONS,
    REALTIME_VOICE_OPTIONS,
    TURN_PRESET_LABELS,
    VOICEMAIL_LABELS,
    tool_label,
)
from voxie_app.state.agents import CUSTOM_MODEL
from voxie_app.state.agents import AgentsState as S


def _err(key: str) -> rx.Var:
    return rx.cond(S.errors.contains(key), S.errors[key], "")


def _label(text: str, hint: str = "") -> rx.Component:
    return rx.hstack(
        rx.text(text, size="2", weight="medium"),
        rx.cond(hint != "", rx.text(hint, size="1", color=rx.color("gray", 10))),
        spacing="2",
        align="baseline",
    )


def _input(key: str, label: str, hint: str = "", **props) -> rx.Component:
    return rx.vstack(
        _label(label, hint),
        rx.input(
            value=S.form[key],
            on_change=lambda v: S.set_field(key, v),
            name=key,
            width="100%",
            color_scheme=rx.cond(S.errors.contains(key), "red", "gray"),
            aria_invalid=rx.cond(S.errors.contains(key), "true", "false"),
            data_testid=f"field-{key}",
            **props,
        ),
        ui.field_error(_err(key)),
        spacing="1",
        width="100%",
        id=f"agent-field-{key}",
        scroll_margin="1rem",
    )


def _textarea(key: str, label: str, hint: str = "", rows: str = "3", **props) -> rx.Component:
    return rx.vstack(
        _label(label, hint),
        rx.text_area(
            value=S.form[key],
            on_change=lambda v: S.set_field(key, v),
            name=key,
            rows=rows,
            width="100%",
            resize="vertical",
            color_scheme=rx.cond(S.errors.contains(key), "red", "gray"),
            data_testid=f"field-{key}",
            **props,
        ),
        ui.field_error(_err(key)),
        spacing="1",
        width="100%",
        id=f"agent-field-{key}",
        scroll_margin="1rem",
    )


def _select(key: str, label: str, options: rx.Var, hint: str = "", *extra) -> rx.Component:
    """A pick from `options` ({value, label} rows): only allowed values, no typing."""
    return rx.vstack(
        _label(label, hint),
        rx.select.root(
            rx.select.trigger(
                width="100%",
                color=rx.cond(S.errors.contains(key), rx.color("red", 11), None),
                aria_label=label,
                data_testid=f"field-{key}",
            ),
            rx.select.content(
                rx.foreach(options, lambda o: rx.select.item(o["label"], value=o["value"]))
            ),
            value=S.form[key],
            on_change=lambda v: S.set_field(key, v),
            name=key,
        ),
        *extra,
        ui.field_error(_err(key)),
        spacing="1",
        width="100%",
        id=f"agent-field-{key}",
        scroll_margin="1rem",
    )


def _voice_preview() -> rx.Component:
    """Play sample: the picked voice says a short sentence (shown with a TTS configured)."""
    return rx.cond(
        S.can_preview,
        rx.hstack(
            rx.button(
                rx.icon("volume-2", size=14),
                "Play sample",
                size="1",
                variant="soft",
                type="button",
                loading=S.sample_loading,
                on_click=S.play_sample,
                data_testid="play-sample",
            ),
            rx.cond(
                S.sample_url != "",
                rx.el.audio(
                    src=S.sample_url,
                    auto_play=True,
                    controls=True,
                    style={"height": "2rem", "max_width": "100%"},
                    data_testid="voice-sample",
                ),
            ),
            spacing="2",
            align="center",
            wrap="wrap",
            width="100%",
        ),
    )


def _model_picker() -> rx.Component:
    """The priced models and the provider's list, or a name typed by hand."""
    return rx.vstack(
        _label("LLM model"),
        rx.select.root(
            rx.select.trigger(
                width="100%", aria_label="LLM model", data_testid="field-llm_model-pick"
            ),
            rx.select.content(
                rx.foreach(S.model_options, lambda m: rx.select.item(m, value=m)),
                rx.select.separator(),
                rx.select.item("Another model (type its name)", value=CUSTOM_MODEL),
            ),
            value=rx.cond(S.model_custom, CUSTOM_MODEL, S.form["llm_model"]),
            on_change=S.pick_model,
        ),
        rx.cond(
            S.model_custom,
            rx.input(
                value=S.form["llm_model"],
                on_change=lambda v: S.set_field("llm_model", v),
                name="llm_model",
                placeholder="e.g. llama3.1:8b",
                width="100%",
                color_scheme=rx.cond(S.errors.contains("llm_model"), "red", "gray"),
                aria_label="Model name",
                data_testid="field-llm_model",
            ),
        ),
        ui.field_error(_err("llm_model")),
        spacing="1",
        width="100%",
        id="agent-field-llm_model",
        scroll_margin="1rem",
    )


def _speech_model(kind: str) -> rx.Component:
    """A speech model name, for a named provider only (`auto` runs each one's default)."""
    return _input(
        f"{kind}_model",
        "Model",
        "empty: the provider's default",
        placeholder=rx.cond(
            S.form[f"{kind}_provider"] == "auto", "each provider's default", "default"
        ),
        disabled=S.form[f"{kind}_provider"] == "auto",
    )


def _group(title: str, *children: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.text(
            title,
            size="1",
            weight="bold",
            color=rx.color("gray", 10),
            text_transform="uppercase",
            letter_spacing="0.05em",
        ),
        *children,
        spacing="3",
        width="100%",
    )


def _tools() -> rx.Component:
    return rx.vstack(
        *[
            rx.checkbox(
                tool_label(tool),
                checked=S.form_tools.contains(tool),
                on_change=lambda checked, t=tool: S.toggle_tool(t, checked),
                data_testid=f"tool-{tool}",
                size="2",
            )
            for tool in ALLOWED_TOOLS
            if tool != "search_knowledge_base"
        ],
        # Not a choice: the agent gets the tool exactly when it has ready documents.
        rx.hstack(
            rx.icon("book-open", size=14),
            rx.text(
                "Knowledge base search turns on by itself once the agent has documents "
                "(Knowledge, on the agent's page).",
                size="1",
            ),
            spacing="2",
            align="center",
            color=rx.color("gray", 10),
            data_testid="tool-knowledge-note",
        ),
        ui.field_error(_err("tools")),
        spacing="2",
        width="100%",
        id="agent-field-tools",
        scroll_margin="1rem",
    )


def _custom_tool(tool: rx.Var) -> rx.Component:
    """One stored tool: a checkbox with its name, kind, status and description."""
    return rx.el.label(
        rx.checkbox(
            checked=S.form_custom_tools.contains(tool["id"]),
            on_change=lambda checked: S.toggle_custom_tool(tool["id"], checked),
            size="2",
            margin_top="0.2rem",
            data_testid="custom-tool-check",
        ),
        rx.vstack(
            rx.hstack(
                rx.code(tool["name"], size="2", variant="ghost", word_break="break-all"),
                rx.cond(tool["kind"] != "", ui.pill(tool["kind"], "gray")),
                rx.cond(
                    tool["needs_setup"] != "",
                    ui.pill("needs setup", "amber", data_testid="custom-tool-needs-setup"),
                ),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.text(
                tool["description"],
                size="1",
                color=rx.color("gray", 10),
                class_name="voxie-clamp-2",
            ),
            spacing="1",
            min_width="0",
        ),
        display="flex",
        gap="0.6rem",
        align_items="flex-start",
        cursor="pointer",
        width="100%",
        data_testid="custom-tool",
        data_tool_id=tool["id"],
    )


def _custom_tools() -> rx.Component:
    return rx.vstack(
        rx.cond(
            S.tool_choices.length() > 0,
            rx.vstack(rx.foreach(S.tool_choices, _custom_tool), spacing="3", width="100%"),
            ui.muted("No tools yet: add an HTTP tool or an MCP server on the Tools page."),
        ),
        rx.hstack(
            rx.text(
                'A tool marked "needs setup" is not offered on calls until an admin completes it.',
                size="1",
                color=rx.color("gray", 10),
            ),
            rx.spacer(),
            rx.link(
                "Manage tools →",
                href=routes.TOOLS,
                size="2",
                white_space="nowrap",
                data_testid="manage-tools",
            ),
            width="100%",
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        ui.field_error(_err("custom_tools")),
        spacing="3",
        width="100%",
        id="agent-field-custom_tools",
        scroll_margin="1rem",
    )


def _target_row(target: rx.Var, index: rx.Var) -> rx.Component:
    return rx.flex(
        rx.select.root(
            rx.select.trigger(placeholder="Pick an agent", width="100%"),
            rx.select.content(
                rx.foreach(
                    S.target_choices,
                    lambda c: rx.select.item(c["name"], value=c["id"]),
                )
            ),
            value=target["agent_id"],
            on_change=lambda v: S.set_target(index, "agent_id", v),
        ),
        rx.input(
            value=target["when"],
            on_change=lambda v: S.set_target(index, "when", v),
            placeholder="When, e.g. the caller asks about billing",
            flex="1",
            min_width="12rem",
        ),
        rx.icon_button(
            rx.icon("trash-2", size=16),
            variant="ghost",
            color_scheme="red",
            on_click=S.remove_target(index),
            aria_label="Remove transfer target",
        ),
        spacing="2",
        width="100%",
        align="center",
        wrap="wrap",
    )


def _targets() -> rx.Component:
    return rx.vstack(
        rx.foreach(S.form_targets, _target_row),
        rx.cond(
            S.target_choices.length() > 0,
            rx.button(
                rx.icon("plus", size=14),
                "Add transfer target",
                variant="soft",
                size="1",
                on_click=S.add_target,
                type="button",
            ),
            ui.muted("Create another agent to enable transfers."),
        ),
        ui.field_error(_err("transfer_targets")),
        spacing="2",
        width="100%",
        id="agent-field-transfer_targets",
        scroll_margin="1rem",
    )


def _number_cell(row: rx.Var, index: rx.Var, key: str, placeholder: str, **props) -> rx.Component:
    """One text cell of a transfer-number row (`number-<key>` for tests)."""
    return rx.input(
        value=row[key],
        on_change=lambda v: S.set_number(index, key, v),
        placeholder=placeholder,
        data_testid=f"number-{key}",
        **props,
    )


def _number_row(row: rx.Var, index: rx.Var) -> rx.Component:
    """One person a phone call may go to: label, E.164 number, when, cold or warm."""
    return rx.flex(
        _number_cell(row, index, "label", "Label, e.g. billing", aria_label="Label", width="9rem"),
        _number_cell(
            row,
            index,
            "number",
            "+14155550123",
            aria_label="Phone number",
            input_mode="tel",
            width="10rem",
        ),
        _number_cell(
            row,
            index,
            "when",
            "When, e.g. billing questions",
            aria_label="When to use",
            flex="1",
            min_width="10rem",
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Transfer mode", data_testid="number-mode"),
            rx.select.content(
                *[rx.select.item(text, value=mode) for mode, text in MODE_LABELS.items()]
            ),
            value=row["mode"],
            on_change=lambda v: S.set_number(index, "mode", v),
        ),
        rx.icon_button(
            rx.icon("trash-2", size=16),
            variant="ghost",
            color_scheme="red",
            on_click=S.remove_number(index),
            aria_label="Remove transfer number",
            type="button",
        ),
        spacing="2",
        width="100%",
        align="center",
        wrap="wrap",
        data_testid="transfer-number-row",
    )


def _numbers() -> rx.Component:
    return rx.vstack(
        ui.muted(
            "Phone calls only: the agent may hand the caller to one of these people "
            "(the transfer_to_human tool). Numbers in E.164, e.g. +14155550123."
        ),
        rx.foreach(S.form_numbers, _number_row),
        rx.cond(
            S.form_numbers.length() < MAX_TRANSFER_NUMBERS,
            rx.button(
                rx.icon("plus", size=14),
                "Add transfer number",
                variant="soft",
                size="1",
                on_click=S.add_number,
                type="button",
                data_testid="add-transfer-number",
            ),
        ),
        ui.field_error(_err("transfer_numbers")),
        spacing="2",
        width="100%",
        id="agent-field-transfer_numbers",
        scroll_margin="1rem",
    )


def _voicemail() -> rx.Component:
    options = [{"value": v, "label": text} for v, text in VOICEMAIL_LABELS.items()]
    return rx.vstack(
        _select(
            "voicemail_policy",
            "When a machine answers",
            options,
            "outbound calls",
        ),
        rx.cond(
            S.form["voicemail_policy"] == "leave_message",
            _textarea(
                "voicemail_message",
                "Voicemail message",
                "required · {{variables}} allowed",
                rows="3",
                placeholder="Hi {{first_name|there}}, this is {{agent_name}} ...",
            ),
        ),
        spacing="3",
        width="100%",
    )


def _two(*children: rx.Component) -> rx.Component:
    return rx.grid(
        *children, columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%"
    )


def agent_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(S.editing_id != "", "Edit agent", "Create an agent")),
            rx.dialog.description(
                "Describe what the agent does and how it talks. Everything can be changed later.",
                size="2",
                color=rx.color("gray", 11),
                margin_bottom="1rem",
            ),
            rx.box(
                rx.cond(
                    S.errors.contains(FORM_ERROR),
                    rx.callout(S.errors[FORM_ERROR], icon="triangle-alert", color_scheme="red"),
                ),
                id=f"agent-field-{FORM_ERROR}",
            ),
            rx.vstack(
                _group(
                    "Basics",
                    _input("name", "Name", "required", placeholder="Bright Smile Receptionist"),
                    _input(
                        "description",
                        "Description",
                        placeholder="Books cleanings for Bright Smile Dental",
                    ),
                ),
                _group(
                    "Conversation",
                    _textarea(
                        "instructions",
                        "Instructions",
                        "required · the agent's system prompt",
                        rows="6",
                        placeholder="You are the receptionist of ...",
                    ),
                    _input("greeting", "Greeting", "first sentence on a call"),
                    _two(
                        _select("language", "Language", S.language_options),
                        _select("voice", "Voice", S.voice_options, "", _voice_preview()),
                    ),
                ),
                _group(
                    "Model",
                    _two(
                        _select("llm_provider", "LLM provider", S.provider_options["llm"]),
                        _model_picker(),
                    ),
                    _two(
                        _input("temperature", "Temperature", "0 to 2", input_mode="decimal"),
                    ),
                ),
                _group(
                    "Speech",
                    _two(
                        _select("stt_provider", "Speech-to-text", S.provider_options["stt"]),
                        _speech_model("stt"),
                    ),
                    _two(
                        _select("tts_provider", "Text-to-speech", S.provider_options["tts"]),
                        _speech_model("tts"),
                    ),
                ),
                _group(
                    "Pipeline",
                    _select(
                        "pipeline",
                        "Pipeline",
                        [{"value": v, "label": text} for v, text in PIPELINE_LABELS.items()],
                        "realtime: one OpenAI speech-to-speech model, needs OPENAI_API_KEY; "
                        "text chats use the LLM model above",
                    ),
                    rx.cond(
                        S.form["pipeline"] == "realtime",
                        _two(
                            _select("realtime_model", "Realtime model", REALTIME_MODEL_OPTIONS),
                            _select("realtime_voice", "Realtime voice", REALTIME_VOICE_OPTIONS),
                        ),
                    ),
                ),
                _group("Tools", _tools()),
                _group("Custom tools", _custom_tools()),
                _group("Transfers", _targets()),
                _group("Transfer to a person", _numbers()),
                _group("Voicemail", _voicemail()),
                _group(
                    "Turn-taking",
                    _select(
                        "turn_preset",
                        "Turn preset",
                        [{"value": v, "label": text} for v, text in TURN_PRESET_LABELS.items()],
                        "how long the agent waits before answering; delays below override it",
                    ),
                    _two(
                        _input(
                            "min_endpointing_delay",
                            "Min endpointing delay",
                            "seconds, 0 to 5",
                            placeholder="default",
                            input_mode="decimal",
                        ),
                        _input(
                            "max_endpointing_delay",
                            "Max endpointing delay",
                            "seconds, 0 to 10",
                            placeholder="default",
                            input_mode="decimal",
                        ),
                    ),
                    _two(
                        _input(
                            "filler_message",
                            "Filler while waiting",
                            "empty = off",
                            placeholder="off: nothing said",
                        ),
                        _input(
                            "filler_after_s",
                            "Said after",
                            "seconds without a reply, 0.5 to 5",
                            input_mode="decimal",
                        ),
                    ),
                ),
                spacing="5",
                width="100%",
            ),
            rx.hstack(
                rx.dialog.close(
                    rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                ),
                rx.button(
                    rx.cond(S.editing_id != "", "Save changes", "Create agent"),
                    on_click=S.save,
                    loading=S.saving,
                    data_testid="save-agent",
                ),
                justify="end",
                spacing="3",
                margin_top="1.5rem",
                width="100%",
            ),
            max_width="40rem",
            width="calc(100vw - 1.5rem)",
            data_testid="agent-dialog",
        ),
        open=S.form_open,
        on_open_change=S.set_form_open,
    )


def delete_dialog() -> rx.Component:
    return ui.confirm_delete_dialog(
        title="Delete agent?",
        name=S.delete_name,
        consequence="Its past calls stay in the call history.",
        open=S.delete_open,
        on_open_change=S.set_delete_open,
        on_confirm=S.confirm_delete,
        confirm_testid="confirm-delete",
    )
