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
            rx.text(doc["name"], size="2", weight="medium", word_break="break-all"),
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
                on_click=K.delete(doc["id"]),
                aria_label="Delete document",
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
            action=rx.button(
                rx.icon("clipboard-paste", size=14),
                "Paste text",
                size="1",
                variant="soft",
                on_click=K.toggle_paste,
                data_testid="knowledge-paste-toggle",
            ),
        ),
        on_mount=K.load,
        on_unmount=K.leave,
        width="100%",
        data_testid="knowledge-panel",
    )
