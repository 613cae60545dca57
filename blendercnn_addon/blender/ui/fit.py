"""Texts that fit the sidebar: status lines wrapped to its width, and a record of what was drawn.

Blender cuts a label that is wider than its place with "…" — often right where the figure is.
Every status line and field label the panels draw goes through here: lines are wrapped into
rows that fit, labels are measured, and each text's needed and available width (pixels) is
kept in :data:`DRAWN` so a check in a real window (tools/gui/drive.py) can count texts that
would be cut. Widths come from Blender's own font (``blf``) at the window's UI scale.
"""

from __future__ import annotations

FONT_POINTS = 11  # Blender's default widget text size (Preferences ▸ Interface ▸ Text)
# Sidebar pixels (at UI scale 1) that are not the layout's: the category tabs, the panel's
# margins and the region's scroll gutter. Measured in Blender 4.3: a 291 px sidebar lays out 235 px.
SIDEBAR_CHROME_PX = 56
ICON_PX = 22  # an icon and the gap after it
TEXT_PADDING_PX = 10  # a label's own inner padding, both sides together
SPLIT_LABEL_SHARE = 0.4  # use_property_split: the label column's share of the row (Blender's own)

# (panel, text) -> (needed px, available px): every text drawn since the window opened.
DRAWN: dict[tuple[str, str], tuple[float, float]] = {}


def ui_scale(context) -> float:
    return context.preferences.system.ui_scale if context.preferences else 1.0


def text_width(context, text: str) -> float:
    """Pixels ``text`` takes in the UI font at the window's scale (an estimate without a display)."""
    scale = ui_scale(context)
    try:
        import blf

        blf.size(0, FONT_POINTS * scale)
        return blf.dimensions(0, text)[0]
    except Exception:  # no font without a display (the bpy module): a wide glyph's estimate
        return 6.5 * scale * len(text)


def layout_width(context) -> float | None:
    """Pixels the sidebar's layout has for a row; None outside a drawn region (scripts, tests)."""
    region = getattr(context, "region", None)
    if region is None or region.type != "UI":
        return None
    return region.width - SIDEBAR_CHROME_PX * ui_scale(context)


def wrap(context, text: str, width: float) -> list[str]:
    """``text`` broken at spaces (and inside a word only when that word alone is too wide) into
    rows each at most ``width`` pixels wide."""
    rows: list[str] = []
    row = ""
    for word in text.split(" "):
        candidate = f"{row} {word}" if row else word
        if text_width(context, candidate) <= width:
            row = candidate
            continue
        if row:
            rows.append(row)
        while text_width(context, word) > width and len(word) > 1:  # a path: cut it where it must
            cut = len(word) - 1
            while cut > 1 and text_width(context, word[:cut]) > width:
                cut -= 1
            rows.append(word[:cut])
            word = word[cut:]
        row = word
    rows.append(row)
    return rows


def lines(layout, context, panel: str, text: str, icon: str = "NONE", reserve_px: float = 0.0) -> None:
    """A status line as label rows that fit the sidebar; the icon on the first, the rest indented.
    ``reserve_px``: pixels (at UI scale 1) the row gives to something beside the text (a button)."""
    width = layout_width(context)
    scale = ui_scale(context)
    if width is None:
        layout.label(text=text, icon=icon)
        return
    room = width - (TEXT_PADDING_PX + reserve_px) * scale - (ICON_PX * scale if icon != "NONE" else 0)
    col = layout.column(align=True)
    for number, row in enumerate(wrap(context, text, room)):
        DRAWN[(panel, row)] = (text_width(context, row), room)
        col.label(text=row, icon=icon if number == 0 else ("BLANK1" if icon != "NONE" else "NONE"))


def field(layout, context, panel: str, data, name: str, text: str | None = None, **kwargs) -> None:
    """``layout.prop`` in a use_property_split layout, its label measured against the label column."""
    layout.prop(data, name, text=text, **kwargs) if text is not None else layout.prop(data, name, **kwargs)
    width = layout_width(context)
    if width is None:
        return
    label = text if text is not None else data.bl_rna.properties[name].name
    room = SPLIT_LABEL_SHARE * width - TEXT_PADDING_PX * ui_scale(context)
    DRAWN[(panel, label)] = (text_width(context, label), room)


def truncated() -> list[str]:
    """'panel: text (needed > available px)' for every drawn text that did not fit."""
    return [f"{panel}: {text!r} ({needed:.0f} > {room:.0f} px)"
            for (panel, text), (needed, room) in DRAWN.items() if needed > room]


def split_column(layout):
    """A column in Blender's property-split style: labels right-aligned on the left, fields right."""
    col = layout.column(align=True)
    col.use_property_split = True
    col.use_property_decorate = False
    return col

