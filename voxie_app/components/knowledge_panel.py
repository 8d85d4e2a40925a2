"""The Knowledge panel on an agent's page: upload or paste documents, watch them ingest."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.vars.object import ObjectVar
from reflex_base.vars.sequence import ArrayVar

from voxie_app.components import ui
from voxie_app.services import knowledge
from voxie_app.state.knowledge import MAX_FILES_PER_DROP, UPLOAD_ID
from voxie_app.state.knowledge import KnowledgeState as K

ACCEPT = {
    "text/plain": [".txt", ".text"],
    "text/markdown": [".md", ".markdown"],
    "text/html": [".html", ".htm"],
    "application/pdf": [".pdf"],
}


def _status(doc: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.cond(doc["status"] == "processing", rx.spinner(size="1")),
        ui.pill(doc["status"], doc["status_color"]),
        align="center",
        spacing="2",
        data_testid="knowledge-status",
    )


def _row(doc: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.icon("file-text", size=18, color=rx.color("accent", 10), flex_shrink="0"),
        rx.vstack(
            rx.link(
                doc["name"],
                size="2",
                weight="medium",
                word_break="break-all",
                href="#",
                on_click=K.open_document(doc["id"]).prevent_default,
                title="Open: its text and passages",
                data_testid="knowledge-open",
            ),
            rx.text(
                doc["detail"],
                " · ",
                doc["where"],
                " · ",
                doc["added"],
                size="1",
                color=rx.color("gray", 10),
            ),
            rx.cond(
                doc["error"] != "",
                rx.text(doc["error"], size="1", color=rx.color("red", 11)),
            ),
            spacing="0",
            min_width="0",
            flex="1",
        ),
        _status(doc),
        ui.editors_only(
            rx.icon_button(
                rx.icon("trash-2", size=14),
                size="1",
                variant="ghost",
                color_scheme="gray",
                on_click=K.ask_delete(doc["id"], doc["name"]),
                aria_label="Delete document",
                data_testid="knowledge-delete",
                title="Delete",
            )
        ),
        align="center",
        spacing="3",
        width="100%",
        padding_y="0.5rem",
        border_bottom=f"1px solid {rx.color('gray', 3)}",
        data_testid="knowledge-document",
    )


def _rejected(rejected: rx.Var) -> rx.event.EventSpec:
    """Send the refused files' names and reasons only: the records hold the `File`s
    themselves, which would travel over the websocket as binary otherwise."""

    def one(record: rx.Var) -> rx.Var:
        record = record.to(ObjectVar, dict[str, dict[str, Any]])
        file = record["file"].to(ObjectVar, dict[str, Any])
        errors = record["errors"].to(ArrayVar, list[dict[str, Any]])
        return f"{file['name']}\t{errors.map(lambda e: e['code']).join(',')}"

    return K.rejected(rejected.to(ArrayVar).map(one))


def _delete_dialog() -> rx.Component:
    return ui.confirm_delete_dialog(
        title="Delete document?",
        name=K.delete_name,
        consequence="The agent stops using it at once; its passages are removed.",
        open=K.delete_open,
        on_open_change=K.set_delete_open,
        on_confirm=K.confirm_delete,
        confirm_testid="knowledge-confirm-delete",
    )


def _passage(text: rx.Var, index: rx.Var) -> rx.Component:
    return rx.box(
        rx.text("Passage ", index + 1, size="1", weight="bold", color=rx.color("gray", 10)),
        rx.text(text, size="2", white_space="pre-wrap", overflow_wrap="anywhere"),
        padding="0.75rem",
        border=f"1px solid {rx.color('gray', 4)}",
        border_radius="var(--radius-2)",
        width="100%",
        data_testid="knowledge-passage",
    )


def _document_dialog() -> rx.Component:
    """An opened document: the text read from it, and the passages the agent searches.

    Plain text only (never markdown): a document's text is untrusted."""
    empty = ui.muted("No text yet: it is being read, or reading it failed.")
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(K.view["name"], word_break="break-all"),
            rx.dialog.description(
                K.view["detail"], " · ", K.view["added"], size="2", color=rx.color("gray", 11)
            ),
            rx.cond(
                K.view["error"] != "",
                rx.callout(K.view["error"], icon="triangle-alert", color_scheme="red", size="1"),
            ),
            rx.tabs.root(
                rx.tabs.list(
                    rx.tabs.trigger("Text", value="text"),
                    rx.tabs.trigger(K.view["passages"], value="passages"),
                ),
                rx.tabs.content(
                    rx.cond(
                        K.view["text"] != "",
                        rx.text(
                            K.view["text"],
                            size="2",
                            white_space="pre-wrap",
                            overflow_wrap="anywhere",
                            data_testid="knowledge-text",
                        ),
                        empty,
                    ),
                    value="text",
                    padding_top="0.75rem",
                ),
                rx.tabs.content(
                    rx.cond(
                        K.view_passages.length() > 0,
                        rx.vstack(rx.foreach(K.view_passages, _passage), spacing="2"),
                        empty,
                    ),
                    value="passages",
                    padding_top="0.75rem",
                ),
                default_value="text",
                margin_top="0.75rem",
            ),
            rx.hstack(
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                justify="end",
                margin_top="1rem",
            ),
            max_width="48rem",
            width="calc(100vw - 1.5rem)",
            data_testid="knowledge-dialog",
        ),
        open=K.view_open,
        on_open_change=K.set_view_open,
    )


def _dropzone() -> rx.Component:
    return rx.upload.root(
        rx.vstack(
            rx.cond(
                K.uploading,
                rx.spinner(size="3"),
                rx.icon("upload", size=22, color=rx.color("accent", 10)),
            ),
            rx.text("Drop files here or click to choose", size="2", weight="medium"),
            rx.text(K.limits, size="1", color=rx.color("gray", 10)),
            align="center",
            spacing="1",
        ),
        id=UPLOAD_ID,
        accept=ACCEPT,
        max_files=MAX_FILES_PER_DROP,
        max_size=knowledge.max_upload_bytes(),
        multiple=True,
        on_drop=K.upload(rx.upload_files(upload_id=UPLOAD_ID)),
        on_drop_rejected=_rejected,
        border=f"1px dashed {rx.color('gray', 7)}",
        border_radius="var(--radius-3)",
        padding="1.25rem",
        width="100%",
        cursor="pointer",
        data_testid="knowledge-dropzone",
    )


def _paste() -> rx.Component:
    return rx.cond(
        K.paste_open,
        rx.vstack(
            rx.input(
                placeholder="Name, e.g. Opening hours",
                value=K.paste_name,
                on_change=K.set_paste_name,
                max_length=knowledge.MAX_NAME_CHARS,
                width="100%",
                data_testid="knowledge-paste-name",
            ),
            rx.text_area(
                placeholder="Paste the text the agent should know…",
                value=K.paste_text,
                on_change=K.set_paste_text,
                rows="6",
                width="100%",
                data_testid="knowledge-paste-text",
            ),
            rx.hstack(
                rx.button("Add text", on_click=K.add_text, data_testid="knowledge-paste-add"),
                rx.button("Cancel", variant="soft", color_scheme="gray", on_click=K.toggle_paste),
                spacing="2",
            ),
            spacing="2",
            width="100%",
        ),
    )


def knowledge_panel() -> rx.Component:
    """Documents the agent answers from (loaded when the panel mounts)."""
    return rx.box(
        ui.section(
            "Knowledge",
            rx.text(
                "Documents this agent searches during calls and chats (prices, hours, policies…). ",
                K.backend,
                size="2",
                color=rx.color("gray", 10),
            ),
            rx.cond(
                K.ready_count > 0,
                rx.hstack(
                    rx.icon("search-check", size=14, color=rx.color("green", 10)),
                    rx.text(
                        "In calls and chats the agent searches its ",
                        K.ready_count,
                        " ready document(s) before answering.",
                        size="1",
                        color=rx.color("gray", 11),
                    ),
                    align="center",
                    spacing="1",
                    data_testid="knowledge-search-on",
                ),
            ),
            ui.editors_only(_dropzone(), _paste()),
            rx.cond(
                K.documents.length() > 0,
                rx.vstack(rx.foreach(K.documents, _row), spacing="0", width="100%"),
                rx.cond(
                    K.loaded,
                    ui.empty_state(
                        "book-open", "No documents yet", "Upload a file or paste some text."
                    ),
                    ui.loading_block("4rem"),
                ),
            ),
            action=ui.editors_only(
                rx.button(
                    rx.icon("clipboard-paste", size=14),
                    "Paste text",
                    size="1",
                    variant="soft",
                    on_click=K.toggle_paste,
                    data_testid="knowledge-paste-toggle",
                )
            ),
        ),
        _delete_dialog(),
        _document_dialog(),
        on_mount=K.load,
        on_unmount=K.leave,
        width="100%",
        data_testid="knowledge-panel",
    )
