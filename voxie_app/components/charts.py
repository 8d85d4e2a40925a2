"""Chart helpers over `rx.recharts`, styled for light and dark themes."""

from __future__ import annotations

import json
from typing import Any

import reflex as rx

AXIS = {"stroke": rx.color("gray", 9), "font_size": 12, "tick_line": False}
PALETTE = ["violet", "cyan", "amber", "grass", "crimson", "blue", "orange", "teal"]


def color(name: str, shade: int = 9) -> rx.Var:
    return rx.color(name, shade)


def _y_width(unit: str) -> int:
    return 76 if unit else 44


def _value_axis(axis, *, unit: str, integer: bool, decimals: int, **props: Any) -> rx.Component:
    """The value axis: whole ticks for counts, else every tick with the same decimals
    (recharts would mix "0", "0.25" and "1" on one axis)."""
    fixed = {} if integer else {"tick_formatter": f"(v) => Number(v).toFixed({decimals})"}
    return axis(unit=unit, allow_decimals=not integer, **fixed, **props, **AXIS)


def _in_order(keys: list[str]) -> rx.Var:
    """A recharts `itemSorter` keeping the series in the order given (recharts 3 sorts
    the tooltip by name and the legend by text)."""
    return rx.Var(f"((item) => {json.dumps(keys)}.indexOf(item.dataKey))")


def _tooltip(unit: str = "", unknown: bool = False, order: list[str] | None = None) -> rx.Component:
    """The hover box; with `unknown`, a missing value reads "unknown" (not left out);
    `order`: the series' data keys in the order to list them."""
    attrs: dict[str, Any] = {}
    if order:
        attrs["itemSorter"] = _in_order(order)
    if unknown:
        attrs["formatter"] = rx.Var(
            f"((v) => (v === null || v === undefined) ? 'unknown' : `${{v}}{unit}`)"
        )
    extra: dict[str, Any] = {"custom_attrs": attrs} if attrs else {}
    if unknown:
        extra["filter_null"] = False
    return rx.recharts.graphing_tooltip(
        content_style={
            "backgroundColor": rx.color("gray", 1),
            "border": f"1px solid {rx.color('gray', 5)}",
            "borderRadius": "8px",
            "fontSize": "13px",
        },
        item_style={"color": rx.color("gray", 12)},
        label_style={"color": rx.color("gray", 11)},
        cursor={"fill": rx.color("gray", 3)},
        **extra,
    )


def _grid() -> rx.Component:
    return rx.recharts.cartesian_grid(
        stroke_dasharray="3 3", vertical=False, stroke=rx.color("gray", 4)
    )


def bar_chart(
    data: rx.Var,
    x: str,
    bars: list[tuple[str, str, str]],
    *,
    height: int = 260,
    unit: str = "",
    stacked: bool = False,
    layout: str = "horizontal",
    integer: bool = True,
    decimals: int = 1,
    testid: str = "",
    lines: list[tuple[str, str, str]] | None = None,
    unknown: bool = False,
    **props: Any,
) -> rx.Component:
    """`bars`: (data key, legend name, color name); stacked bars round the top one only.
    `lines` (same shape) are drawn over the bars; `unknown`: the tooltip names a missing
    value "unknown" instead of leaving it out."""
    vertical = layout == "vertical"
    rounded = [4, 4, 0, 0] if not vertical else [0, 4, 4, 0]
    chart = rx.recharts.composed_chart if lines else rx.recharts.bar_chart
    order = [key for key, _, _ in [*bars, *(lines or [])]]
    return rx.box(
        chart(
            _grid(),
            *[
                rx.recharts.bar(
                    data_key=key,
                    name=name,
                    fill=color(c),
                    radius=rounded if not stacked or i == len(bars) - 1 else 0,
                    stack_id="a" if stacked else None,
                    max_bar_size=36,
                    is_animation_active=False,
                )
                for i, (key, name, c) in enumerate(bars)
            ],
            *[
                rx.recharts.line(
                    data_key=key,
                    name=name,
                    stroke=color(c, 11),
                    stroke_width=2,
                    stroke_dasharray="4 3",
                    dot={"r": 3},
                    type_="monotone",
                    connect_nulls=True,
                    is_animation_active=False,
                )
                for key, name, c in lines or []
            ],
            (
                _value_axis(
                    rx.recharts.x_axis,
                    unit=unit,
                    integer=integer,
                    decimals=decimals,
                    type_="number",
                )
                if vertical
                else rx.recharts.x_axis(data_key=x, **AXIS)
            ),
            (
                rx.recharts.y_axis(data_key=x, type_="category", width=120, **AXIS)
                if vertical
                else _value_axis(
                    rx.recharts.y_axis,
                    unit=unit,
                    integer=integer,
                    decimals=decimals,
                    width=_y_width(unit),
                )
            ),
            _tooltip(f" {unit}" if unit else "", unknown, order),
            *(
                [
                    rx.recharts.legend(
                        icon_size=10,
                        icon_type="circle",
                        custom_attrs={"itemSorter": _in_order(order)},
                    )
                ]
                if len(order) > 1
                else []
            ),
            data=data,
            layout=layout,
            height=height,
            margin={"top": 8, "right": 8, "left": 0, "bottom": 0},
            **props,
        ),
        width="100%",
        min_width="0",
        data_testid=testid or None,
        class_name="voxie-chart",
    )


def area_chart(
    data: rx.Var,
    x: str,
    areas: list[tuple[str, str, str]],
    *,
    height: int = 260,
    unit: str = "",
    integer: bool = False,
    decimals: int = 1,
    testid: str = "",
) -> rx.Component:
    return rx.box(
        rx.recharts.area_chart(
            rx.el.svg.defs(
                *[
                    rx.el.svg.linear_gradient(
                        rx.el.svg.stop(offset="5%", stop_color=color(c), stop_opacity=0.35),
                        rx.el.svg.stop(offset="95%", stop_color=color(c), stop_opacity=0.02),
                        id=f"grad-{key}",
                        x1=0,
                        y1=0,
                        x2=0,
                        y2=1,
                    )
                    for key, _, c in areas
                ]
            ),
            _grid(),
            *[
                rx.recharts.area(
                    data_key=key,
                    name=name,
                    stroke=color(c),
                    stroke_width=2,
                    fill=f"url(#grad-{key})",
                    type_="monotone",
                    is_animation_active=False,
                )
                for key, name, c in areas
            ],
            rx.recharts.x_axis(data_key=x, **AXIS),
            _value_axis(
                rx.recharts.y_axis,
                unit=unit,
                integer=integer,
                decimals=decimals,
                width=_y_width(unit),
            ),
            _tooltip(),
            data=data,
            height=height,
            margin={"top": 8, "right": 8, "left": 0, "bottom": 0},
        ),
        width="100%",
        min_width="0",
        data_testid=testid or None,
        class_name="voxie-chart",
    )


def line_chart(
    data: rx.Var,
    x: str,
    lines: list[tuple[str, str, str]],
    *,
    height: int = 260,
    unit: str = "",
    integer: bool = False,
    decimals: int = 1,
    testid: str = "",
) -> rx.Component:
    return rx.box(
        rx.recharts.line_chart(
            _grid(),
            *[
                rx.recharts.line(
                    data_key=key,
                    name=name,
                    stroke=color(c),
                    stroke_width=2,
                    dot=False,
                    type_="monotone",
                    connect_nulls=True,
                    is_animation_active=False,
                )
                for key, name, c in lines
            ],
            rx.recharts.x_axis(data_key=x, **AXIS),
            _value_axis(
                rx.recharts.y_axis,
                unit=unit,
                integer=integer,
                decimals=decimals,
                width=_y_width(unit),
            ),
            _tooltip(),
            rx.recharts.legend(icon_size=10, icon_type="circle"),
            data=data,
            height=height,
            margin={"top": 8, "right": 8, "left": 0, "bottom": 0},
        ),
        width="100%",
        min_width="0",
        data_testid=testid or None,
        class_name="voxie-chart",
    )


def donut(data: rx.Var, *, height: int = 240, testid: str = "") -> rx.Component:
    """`data`: list of {"name", "value", "fill"} (fill is a CSS color)."""
    return rx.box(
        rx.recharts.pie_chart(
            rx.recharts.pie(
                data=data,
                data_key="value",
                name_key="name",
                inner_radius="55%",
                outer_radius="85%",
                padding_angle=2,
                stroke=rx.color("gray", 1),
                is_animation_active=False,
            ),
            _tooltip(),
            rx.recharts.legend(icon_size=10, icon_type="circle"),
            height=height,
        ),
        width="100%",
        min_width="0",
        data_testid=testid or None,
        class_name="voxie-chart",
    )
