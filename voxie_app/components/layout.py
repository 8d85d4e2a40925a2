"""The shared page layout: sidebar (a drawer on phones), header, theme toggle."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes

NAV: list[tuple[str, str, str]] = [
    ("Dashboard", routes.HOME, "layout-dashboard"),
    ("Agents", routes.AGENTS, "bot"),
    ("Tools", routes.TOOLS, "wrench"),
    ("Builder", routes.BUILDER, "sparkles"),
    ("Calls", routes.CALLS, "phone"),
    ("Phone", routes.PHONE, "phone-call"),
    ("Campaigns", routes.CAMPAIGNS, "megaphone"),
    ("Analytics", routes.ANALYTICS, "chart-column"),
    ("Settings", routes.SETTINGS, "settings"),
]

SIDEBAR_WIDTH = "15rem"
CONTENT_MAX = "76rem"


def _is_active(href: str) -> rx.Var:
    path = rx.State.router.url.path
    if href == routes.HOME:
        return (path == routes.HOME) | (path == routes.DASHBOARD)
    return (path == href) | path.startswith(href + "/")


def _nav_item(label: str, href: str, icon: str) -> rx.Component:
    active = _is_active(href)
    return rx.link(
        rx.hstack(
            rx.icon(icon, size=18),
            rx.text(label, size="3", weight="medium"),
            spacing="3",
            align="center",
            padding_x="0.75rem",
            padding_y="0.55rem",
            border_radius="var(--radius-3)",
            width="100%",
            color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
            background_color=rx.cond(active, rx.color("accent", 3), "transparent"),
            _hover={"background_color": rx.color("accent", 3), "color": rx.color("accent", 11)},
        ),
        href=href,
        underline="none",
        width="100%",
        data_testid=f"nav-{label.lower()}",
    )


def _brand() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.center(
                rx.icon("audio-lines", size=18, color="white"),
                width="2rem",
                height="2rem",
                border_radius="var(--radius-3)",
                background=(
                    f"linear-gradient(135deg, {rx.color('accent', 9)}, {rx.color('iris', 9)})"
                ),
            ),
            rx.text("Voxie", size="5", weight="bold"),
            spacing="2",
            align="center",
        ),
        href=routes.HOME,
        underline="none",
        color=rx.color("gray", 12),
    )


def _nav_links() -> rx.Component:
    return rx.vstack(*[_nav_item(*item) for item in NAV], spacing="1", width="100%")


def theme_toggle() -> rx.Component:
    return rx.color_mode.button(
        variant="ghost",
        color_scheme="gray",
        size="2",
        aria_label="Toggle light and dark theme",
        data_testid="theme-toggle",
    )


def user_menu(*, load: bool = True) -> rx.Component:
    """Who is signed in, their role, and sign out (`load`: fetch who it is when mounted)."""
    from voxie_app.state.session import SessionState

    return rx.hstack(
        rx.avatar(fallback=SessionState.user_name.to(str)[:1].upper(), size="2", radius="full"),
        rx.vstack(
            rx.text(SessionState.user_name, size="2", weight="medium", class_name="voxie-clamp-1"),
            rx.badge(SessionState.user_role, size="1", variant="soft"),
            spacing="0",
            min_width="0",
        ),
        rx.spacer(),
        rx.tooltip(
            rx.icon_button(
                rx.icon("log-out", size=14),
                size="1",
                variant="ghost",
                color_scheme="gray",
                on_click=SessionState.logout,
                aria_label="Sign out",
                data_testid="sign-out",
            ),
            content="Sign out",
        ),
        width="100%",
        align="center",
        padding_y="0.5rem",
        on_mount=SessionState.load_user if load else None,
        data_testid="user-menu",
    )


def _footer() -> rx.Component:
    """API docs and the theme toggle, under the user menu (sidebar and phone drawer)."""
    return rx.hstack(
        rx.link(
            rx.hstack(rx.icon("book-open", size=14), rx.text("API docs", size="2")),
            href=routes.API_DOCS,
            color=rx.color("gray", 10),
            is_external=True,
            data_testid="api-docs-link",
        ),
        rx.spacer(),
        theme_toggle(),
        width="100%",
        align="center",
    )


def sidebar() -> rx.Component:
    """A column as tall as the page (its background and border reach the bottom of long
    pages), holding a navigation panel that stays in view while the page scrolls."""
    return rx.box(
        rx.vstack(
            _brand(),
            rx.box(height="1rem"),
            _nav_links(),
            rx.spacer(),
            user_menu(),
            _footer(),
            height="100vh",
            position="sticky",
            top="0",
            padding="1.25rem",
            spacing="1",
        ),
        width=SIDEBAR_WIDTH,
        flex_shrink="0",
        border_right=f"1px solid {rx.color('gray', 4)}",
        background_color=rx.color("gray", 1),
        display=["none", "none", "none", "block"],
        z_index="5",
        data_testid="sidebar",
    )


def mobile_bar() -> rx.Component:
    """A top bar with a menu drawer, shown below the laptop breakpoint."""
    return rx.box(
        rx.hstack(
            rx.drawer.root(
                rx.drawer.trigger(
                    rx.icon_button(
                        rx.icon("menu", size=20),
                        variant="ghost",
                        color_scheme="gray",
                        aria_label="Open navigation",
                        data_testid="menu-button",
                    )
                ),
                rx.drawer.overlay(z_index="20"),
                rx.drawer.portal(
                    rx.drawer.content(
                        rx.vstack(
                            rx.hstack(
                                _brand(),
                                rx.spacer(),
                                rx.drawer.close(
                                    rx.icon_button(
                                        rx.icon("x", size=18),
                                        variant="ghost",
                                        color_scheme="gray",
                                        aria_label="Close navigation",
                                    )
                                ),
                                width="100%",
                                align="center",
                            ),
                            rx.box(height="0.75rem"),
                            rx.drawer.close(_nav_links()),
                            rx.spacer(),
                            rx.separator(size="4"),
                            user_menu(load=False),
                            _footer(),
                            padding="1.25rem",
                            width="100%",
                            height="100%",
                        ),
                        top="0",
                        left="0",
                        height="100%",
                        width="17rem",
                        background_color=rx.color("gray", 1),
                        z_index="30",
                    )
                ),
                direction="left",
            ),
            _brand(),
            rx.spacer(),
            theme_toggle(),
            align="center",
            width="100%",
            spacing="3",
        ),
        position="sticky",
        top="0",
        z_index="10",
        padding_x="1rem",
        padding_y="0.6rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        background_color=rx.color("gray", 1),
        display=["block", "block", "block", "none"],
    )


def page_header(
    title: str | rx.Var, subtitle: str | rx.Var = "", actions: rx.Component | None = None
) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.heading(title, size="7", weight="bold", as_="h1", data_testid="page-title"),
            rx.cond(subtitle != "", rx.text(subtitle, size="3", color=rx.color("gray", 11))),
            spacing="1",
            min_width="0",
        ),
        rx.spacer(),
        actions if actions is not None else rx.fragment(),
        direction=rx.breakpoints(initial="column", sm="row"),
        align=rx.breakpoints(initial="start", sm="center"),
        spacing="3",
        width="100%",
    )


def layout(
    *children: rx.Component,
    title: str | rx.Var,
    subtitle: str | rx.Var = "",
    actions: rx.Component | None = None,
) -> rx.Component:
    """Every page: navigation, a header with the title and actions, then the content."""
    return rx.box(
        sidebar(),
        rx.box(
            mobile_bar(),
            rx.vstack(
                page_header(title, subtitle, actions),
                *children,
                spacing="5",
                width="100%",
                max_width=CONTENT_MAX,
                margin_x="auto",
                padding_x=["1rem", "1rem", "1.5rem", "2rem"],
                padding_y=["1.25rem", "1.25rem", "1.75rem", "2rem"],
            ),
            flex="1",
            min_width="0",
        ),
        display="flex",
        min_height="100vh",
        background_color=rx.color("gray", 2),
    )
