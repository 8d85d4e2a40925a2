"""The `/tools` dialogs: the HTTP tool editor (parameter table or raw JSON) and Test."""

from __future__ import annotations

import reflex as rx

from voxie_app.components import ui
from voxie_app.services.tool_params import TYPES
from voxie_app.services.tools import METHODS
from voxie_app.state.tools import ToolsState as S

MONO = "var(--code-font-family)"
# Name | type | description | allowed values | required | remove (one line from md up).
PARAM_COLUMNS = rx.breakpoints(
    initial="minmax(0, 1fr) 7.5rem",
    md="minmax(7rem, 1fr) 7rem minmax(9rem, 2fr) minmax(7rem, 1fr) 5.5rem 2rem",
)


def _err(key: str) -> rx.Var:
    return rx.cond(S.errors.contains(key), S.errors[key], "")


def _label(text: str, hint: str = "") -> rx.Component:
    return rx.hstack(
        rx.text(text, size="2", weight="medium"),
        rx.cond(hint != "", rx.text(hint, size="1", color=rx.color("gray", 10))),
        spacing="2",
        align="baseline",
        wrap="wrap",
    )


def _field(key: str, label: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        _label(label, hint),
        control,
        ui.field_error(_err(key)),
        spacing="1",
        width="100%",
        min_width="0",
    )


def _input(key: str, label: str, hint: str = "", **props) -> rx.Component:
    return _field(
        key,
        label,
        rx.input(
            value=S.form[key],
            on_change=lambda v: S.set_field(key, v),
            width="100%",
            color_scheme=rx.cond(S.errors.contains(key), "red", "gray"),
            aria_label=label,
            data_testid=f"tool-field-{key}",
            **props,
        ),
        hint,
    )


def _group(title: str, *children: rx.Component, action: rx.Component | None = None):
    return rx.vstack(
        rx.hstack(
            rx.text(
                title,
                size="1",
                weight="bold",
                color=rx.color("gray", 10),
                text_transform="uppercase",
                letter_spacing="0.05em",
            ),
            rx.spacer(),
            action if action is not None else rx.fragment(),
            width="100%",
            align="center",
        ),
        *children,
        spacing="3",
        width="100%",
    )


def _method() -> rx.Component:
    return _field(
        "method",
        "Method",
        rx.select.root(
            rx.select.trigger(width="100%", aria_label="Method", data_testid="tool-field-method"),
            rx.select.content(*[rx.select.item(m, value=m) for m in METHODS]),
            value=S.form["method"],
            on_change=lambda v: S.set_field("method", v),
        ),
    )


def _request() -> rx.Component:
    return _group(
        "Request",
        rx.grid(
            _method(),
            _input(
                "url",
                "URL",
                placeholder="https://api.example.com/slots?date={date}",
                font_family=MONO,
            ),
            columns=rx.breakpoints(initial="1", sm="7rem minmax(0, 1fr)"),
            spacing="3",
            width="100%",
        ),
        rx.text(
            rx.code("{param}"),
            " in the path or query is filled with that argument; the others go as the JSON "
            "body (as the query for GET). ",
            rx.code("{{secret:NAME}}"),
            " inserts a secret from Settings, on the server, when the request is sent.",
            size="1",
            color=rx.color("gray", 10),
        ),
        _headers(),
    )


def _header_row(header: rx.Var, index: rx.Var) -> rx.Component:
    return rx.flex(
        rx.input(
            value=header["name"],
            on_change=lambda v: S.set_header(index, "name", v),
            placeholder="Header, e.g. Authorization",
            aria_label="Header name",
            flex="1 1 10rem",
            min_width="0",
            data_testid="header-name",
        ),
        rx.input(
            value=header["value"],
            on_change=lambda v: S.set_header(index, "value", v),
            placeholder="Value, e.g. Bearer {{secret:API_KEY}}",
            aria_label="Header value",
            flex="2 1 14rem",
            min_width="0",
            font_family=MONO,
            data_testid="header-value",
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            variant="ghost",
            color_scheme="gray",
            on_click=S.remove_header(index),
            aria_label="Remove header",
            type="button",
        ),
        spacing="2",
        width="100%",
        align="center",
        wrap="wrap",
    )


def _headers() -> rx.Component:
    return rx.vstack(
        _label("Headers", "values may use {{secret:NAME}}"),
        rx.foreach(S.headers, _header_row),
        rx.button(
            rx.icon("plus", size=14),
            "Add header",
            variant="soft",
            size="1",
            type="button",
            on_click=S.add_header,
            data_testid="add-header",
        ),
        ui.field_error(_err("headers")),
        spacing="2",
        width="100%",
    )


def _param_head() -> rx.Component:
    def cell(text: str) -> rx.Component:
        return rx.text(text, size="1", weight="medium", color=rx.color("gray", 10))

    return rx.grid(
        cell("Name"),
        cell("Type"),
        cell("Description (for the model)"),
        cell("Allowed values"),
        cell(""),
        cell(""),
        grid_template_columns=PARAM_COLUMNS,
        gap="0.5rem",
        width="100%",
        display=rx.breakpoints(initial="none", md="grid"),
    )


def _param_row(param: rx.Var, index: rx.Var) -> rx.Component:
    return rx.grid(
        rx.input(
            value=param["name"],
            on_change=lambda v: S.set_param(index, "name", v),
            placeholder="name",
            aria_label="Parameter name",
            font_family=MONO,
            min_width="0",
            data_testid="param-name",
        ),
        rx.select.root(
            rx.select.trigger(width="100%", aria_label="Parameter type", data_testid="param-type"),
            rx.select.content(*[rx.select.item(t, value=t) for t in TYPES]),
            value=param["type"],
            on_change=lambda v: S.set_param(index, "type", v),
        ),
        rx.input(
            value=param["description"],
            on_change=lambda v: S.set_param(index, "description", v),
            placeholder="What it is, e.g. the day as YYYY-MM-DD",
            aria_label="Parameter description",
            min_width="0",
            grid_column=rx.breakpoints(initial="1 / -1", md="auto"),
            data_testid="param-description",
        ),
        rx.input(
            value=param["enum"],
            on_change=lambda v: S.set_param(index, "enum", v),
            placeholder="any (or a, b, c)",
            aria_label="Allowed values, comma-separated",
            min_width="0",
            data_testid="param-enum",
        ),
        rx.hstack(
            rx.checkbox(
                "required",
                checked=param["required"] != "",
                on_change=lambda v: S.set_param(index, "required", v),
                size="1",
                data_testid="param-required",
            ),
            rx.spacer(display=rx.breakpoints(initial="flex", md="none")),
            rx.icon_button(
                rx.icon("trash-2", size=14),
                variant="ghost",
                color_scheme="red",
                on_click=S.remove_param(index),
                aria_label="Remove parameter",
                type="button",
                display=rx.breakpoints(initial="flex", md="none"),
            ),
            align="center",
            height="100%",
        ),
        rx.icon_button(
            rx.icon("trash-2", size=14),
            variant="ghost",
            color_scheme="red",
            on_click=S.remove_param(index),
            aria_label="Remove parameter",
            type="button",
            display=rx.breakpoints(initial="none", md="flex"),
            align_self="center",
        ),
        grid_template_columns=PARAM_COLUMNS,
        gap="0.5rem",
        width="100%",
        align_items="center",
        padding_bottom=rx.breakpoints(initial="0.6rem", md="0"),
        border_bottom=rx.breakpoints(initial=f"1px solid {rx.color('gray', 4)}", md="none"),
        data_testid="param-row",
    )


def _param_table() -> rx.Component:
    return rx.vstack(
        rx.cond(
            S.params.length() > 0,
            rx.vstack(
                _param_head(),
                rx.foreach(S.params, _param_row),
                spacing="2",
                width="100%",
            ),
            ui.muted("No parameters: the model calls the tool without arguments."),
        ),
        rx.button(
            rx.icon("plus", size=14),
            "Add parameter",
            variant="soft",
            size="1",
            type="button",
            on_click=S.add_param,
            data_testid="add-param",
        ),
        spacing="3",
        width="100%",
        data_testid="param-table",
    )


def _raw_schema() -> rx.Component:
    return rx.vstack(
        rx.cond(
            S.raw_note != "",
            rx.callout(S.raw_note, icon="info", color_scheme="gray", size="1", width="100%"),
        ),
        rx.text_area(
            value=S.raw_schema,
            on_change=S.set_raw_schema,
            rows="12",
            width="100%",
            resize="vertical",
            font_family=MONO,
            font_size="0.8rem",
            spell_check=False,
            aria_label="Parameters as JSON Schema",
            data_testid="raw-schema",
        ),
        spacing="2",
        width="100%",
    )


def _parameters() -> rx.Component:
    return _group(
        "Parameters",
        rx.text(
            "What the model fills in when it calls the tool. Checked before any request is sent.",
            size="1",
            color=rx.color("gray", 10),
        ),
        rx.cond(S.raw_mode, _raw_schema(), _param_table()),
        ui.field_error(_err("parameters")),
        action=rx.hstack(
            rx.text("Edit as JSON", size="1", color=rx.color("gray", 11)),
            rx.switch(
                checked=S.raw_mode,
                on_change=S.set_raw_mode,
                size="1",
                aria_label="Edit the parameters as raw JSON Schema",
                data_testid="raw-toggle",
            ),
            spacing="2",
            align="center",
        ),
    )


def _behaviour() -> rx.Component:
    return _group(
        "Behaviour",
        rx.grid(
            _input("timeout_s", "Timeout", "seconds, 1 to 30", input_mode="decimal"),
            _input("result_path", "Result path", "optional", placeholder="data.slots"),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="3",
            width="100%",
        ),
        _input(
            "wait_message",
            "Wait message",
            "said when the answer takes over 1.5 s",
            placeholder="One moment while I check.",
        ),
    )


def tool_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(S.editing_id != "", "Edit tool", "New HTTP tool")),
            rx.dialog.description(
                "An HTTP request your agents can make during a conversation.",
                size="2",
                color=rx.color("gray", 11),
                margin_bottom="0.75rem",
            ),
            rx.cond(
                S.form["status"] == "needs_setup",
                rx.callout(
                    "Drafted by the builder: it needs setup. Enter its URL (and any headers) "
                    "and save to make it ready; agents never call it before.",
                    icon="wrench",
                    color_scheme="amber",
                    size="1",
                    margin_bottom="0.75rem",
                    data_testid="needs-setup-note",
                ),
            ),
            rx.vstack(
                _group(
                    "Basics",
                    _input(
                        "name",
                        "Name",
                        "snake_case, what the model calls",
                        placeholder="check_availability",
                        font_family=MONO,
                    ),
                    _field(
                        "description",
                        "Description",
                        rx.text_area(
                            value=S.form["description"],
                            on_change=lambda v: S.set_field("description", v),
                            rows="2",
                            width="100%",
                            resize="vertical",
                            placeholder="Free appointment slots on a date.",
                            aria_label="Description",
                            data_testid="tool-field-description",
                        ),
                        "what the model reads to decide when to call it",
                    ),
                ),
                _request(),
                _parameters(),
                _behaviour(),
                spacing="5",
                width="100%",
            ),
            rx.hstack(
                rx.dialog.close(
                    rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                ),
                rx.button(
                    rx.cond(S.editing_id != "", "Save changes", "Create tool"),
                    on_click=S.save,
                    loading=S.saving,
                    data_testid="save-tool",
                ),
                justify="end",
                spacing="3",
                margin_top="1.5rem",
                width="100%",
            ),
            max_width="56rem",
            width="calc(100vw - 1.5rem)",
            data_testid="tool-dialog",
        ),
        open=S.editor_open,
        on_open_change=S.set_editor_open,
    )


def _test_result() -> rx.Component:
    ok = S.test_result["ok"] != ""
    return rx.cond(
        S.test_result.contains("status"),
        rx.vstack(
            rx.hstack(
                ui.pill(
                    S.test_result["status"], rx.cond(ok, "grass", "red"), data_testid="test-status"
                ),
                rx.badge(
                    "HTTP ",
                    S.test_result["http_status"],
                    variant="surface",
                    color_scheme="gray",
                    data_testid="test-http-status",
                ),
                rx.badge(
                    rx.icon("timer", size=12),
                    S.test_result["latency"],
                    variant="surface",
                    color_scheme="gray",
                    data_testid="test-latency",
                ),
                spacing="2",
                wrap="wrap",
            ),
            rx.text(
                rx.cond(
                    ok,
                    "What the model sees (secrets redacted, capped at 4,000 characters):",
                    "The tool error the model gets:",
                ),
                size="1",
                color=rx.color("gray", 10),
            ),
            rx.box(
                S.test_result["result"],
                font_family=MONO,
                font_size="0.8rem",
                white_space="pre-wrap",
                word_break="break-word",
                max_height="16rem",
                overflow_y="auto",
                width="100%",
                padding="0.6rem 0.75rem",
                border_radius="var(--radius-3)",
                background_color=rx.cond(ok, rx.color("gray", 3), rx.color("red", 2)),
                color=rx.cond(ok, rx.color("gray", 12), rx.color("red", 11)),
                data_testid="test-result",
            ),
            spacing="2",
            width="100%",
        ),
    )


def test_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.hstack(rx.text("Test "), rx.code(S.test_name), spacing="1")),
            rx.dialog.description(
                "Runs the saved tool once with these arguments, as an agent would: the request "
                "is really sent, through the URL guard, with secrets filled in on the server.",
                size="2",
                color=rx.color("gray", 11),
                margin_bottom="0.75rem",
            ),
            rx.vstack(
                _label("Sample arguments", "JSON, as the model would send them"),
                rx.text_area(
                    value=S.test_args,
                    on_change=S.set_test_args,
                    rows="6",
                    width="100%",
                    resize="vertical",
                    font_family=MONO,
                    font_size="0.8rem",
                    spell_check=False,
                    aria_label="Sample arguments",
                    data_testid="test-args",
                ),
                _test_result(),
                spacing="3",
                width="100%",
            ),
            rx.hstack(
                rx.dialog.close(
                    rx.button("Close", variant="soft", color_scheme="gray", type="button")
                ),
                rx.button(
                    rx.icon("play", size=14),
                    "Run",
                    on_click=S.run_test,
                    loading=S.test_running,
                    data_testid="run-test",
                ),
                justify="end",
                spacing="3",
                margin_top="1.25rem",
                width="100%",
            ),
            max_width="40rem",
            width="calc(100vw - 1.5rem)",
            data_testid="test-dialog",
        ),
        open=S.test_open,
        on_open_change=S.set_test_open,
    )


def delete_dialog() -> rx.Component:
    return ui.confirm_delete_dialog(
        title="Delete tool?",
        name=S.delete_name,
        consequence="Agents that use it must drop it first; past calls keep their records.",
        open=S.delete_open,
        on_open_change=S.set_delete_open,
        on_confirm=S.confirm_delete,
        confirm_testid="confirm-delete-tool",
    )
