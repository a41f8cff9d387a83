"""The invoice's lines table: one group per subscription, tiers explained under their line."""

from collections.abc import Iterable, Sequence

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, Table, TableStyle

from invoice_render.document import EN_DASH, Formats
from invoice_render.i18n import Labels
from invoice_render.layout import RULE, Figure, Styles, para, para_lines
from invoice_render.models import InvoiceLine, LineTier
from invoice_render.money import format_day
from invoice_render.tables import MIN_DESCRIPTION_SHARE, figure_width, grid_commands

LINE_HEADER_KEYS = ("description", "period", "units", "unit_price", "amount")


def lines_table(
    lines: Sequence[InvoiceLine], styles: Styles, width: float, formats: Formats
) -> Table:
    """The lines, grouped under each subscription's plan and service period when they have
    one; a tiered line is followed by one muted row per tier (or package step) that priced it."""
    labels = formats.labels
    header: list[Flowable | str] = [
        para(labels[key], styles.table_header if index < 2 else styles.table_header_right)
        for index, key in enumerate(LINE_HEADER_KEYS)
    ]
    grouped = any(line.subscription_id for line in lines)
    body: list[tuple[str, tuple[str, list[str | None], str, str, str]]] = []
    for group in _subscription_groups(lines):
        group_period: list[str | None] = []
        if grouped:
            group_period = _group_period(group, formats)
            title = group[0].plan_name or labels["other_lines"]
            if group[0].subscription_id:
                reference = labels("subscription_ref", id=group[0].subscription_id)
                title = f"{title} · {reference}"
            body.append(("group", (title, group_period, "", "", "")))
        for line in group:
            period = _line_period(line, formats.locale)
            show_price = line.unit_price_is_exact and not line.tiers
            description = (
                labels["subscription_fee"]
                if grouped and line.line_type == "subscription"
                # A spend cap line (docs/rules.md §12b) reads in the document's language.
                else labels["spend_cap"]
                if line.line_type == "spend_cap"
                else line.description
            )
            body.append(
                (
                    "line",
                    (
                        description,
                        [] if period == group_period else period,
                        formats.quantity(line.units),
                        formats.unit_price(line.unit_amount) if show_price else "",
                        formats.money(line.amount),
                    ),
                )
            )
            body += [("tier", _tier_texts(tier, formats)) for tier in line.tiers]
    rows: list[list[Flowable | str]] = [header]
    commands = grid_commands(ruled=False)
    for index, (kind, (description, period, units, unit_price, amount)) in enumerate(body, 1):
        if kind == "group":
            rows.append([para(description, styles.group_title), "", "", "", ""])
            commands += [
                ("SPAN", (0, index), (-1, index)),
                ("TOPPADDING", (0, index), (-1, index), 8),
            ]
            if period:
                rows[-1][0] = para_lines(
                    [description, " ".join(p for p in period if p)], styles.group_title
                )
            continue
        text_style, figure_style = (
            (styles.tier_text, styles.tier_figure)
            if kind == "tier"
            else (styles.cell, styles.cell_right)
        )
        # Blank cells stay plain strings: a Paragraph or Figure costs layout time for nothing.
        rows.append(
            [
                para(description, text_style),
                para_lines(period, styles.cell_muted) if any(period) else "",
                Figure(units, figure_style) if units else "",
                Figure(unit_price, figure_style) if unit_price else "",
                Figure(amount, figure_style) if amount else "",
            ]
        )
        if kind == "tier":
            commands += [
                ("TOPPADDING", (0, index), (-1, index), 0),
                ("BOTTOMPADDING", (0, index), (-1, index), 2),
            ]
        # A rule under each line with its tiers, and under each group's title.
        next_kind = body[index][0] if index < len(body) else None
        if next_kind != "tier":
            commands.append(("LINEBELOW", (0, index), (-1, index), 0.25, RULE))
    if not lines:
        rows.append([para(labels["no_lines"], styles.cell_muted), "", "", "", ""])
        commands.append(("SPAN", (0, 1), (-1, 1)))
    texts = [row for kind, row in body if kind != "group"]
    return Table(
        rows,
        colWidths=_line_column_widths(texts, styles, width, labels),
        repeatRows=1,
        # A description taller than a page must split inside its row instead of failing.
        splitInRow=1,
        style=TableStyle(commands),
    )


def _subscription_groups(lines: Sequence[InvoiceLine]) -> list[list[InvoiceLine]]:
    """The lines of each subscription together, in the order the subscriptions first appear."""
    groups: dict[str | None, list[InvoiceLine]] = {}
    for line in lines:
        groups.setdefault(line.subscription_id, []).append(line)
    return list(groups.values())


def _group_period(group: Sequence[InvoiceLine], formats: Formats) -> list[str | None]:
    """The service period of a subscription's lines: its earliest start to its latest end."""
    starts = [line.from_date for line in group if line.from_date]
    ends = [line.to_date for line in group if line.to_date]
    if not starts or not ends:
        return []
    return [f"{formats.day(min(starts))} {EN_DASH}", formats.day(max(ends))]


def _tier_texts(tier: LineTier, formats: Formats) -> tuple[str, list[str | None], str, str, str]:
    """How one tier or package step reads: what it covers, its units, price and amount."""
    labels = formats.labels
    start = formats.quantity(tier.from_value)
    end = formats.quantity(tier.to_value) if tier.to_value is not None else None
    units = formats.quantity(tier.units)
    if tier.kind == "free_units":
        return (labels("package_free", count=end or units), [], units, "", "")
    if tier.kind == "packages":
        packages = formats.quantity(tier.packages) if tier.packages is not None else ""
        size = formats.quantity(tier.package_size) if tier.package_size is not None else ""
        return (
            labels("packages", packages=packages, size=size),
            [],
            units,
            formats.unit_price(tier.unit_amount),
            formats.unit_price(tier.amount),
        )
    if tier.charge_model == "volume":
        description = (
            labels("tier_volume", start=start, end=end)
            if end
            else labels("tier_volume_above", start=start)
        )
    elif tier.is_free and end and tier.from_value.is_zero():
        description = labels("tier_free_first", count=end)
    elif tier.is_free and end:
        description = labels("tier_free_range", start=start, end=end)
    elif end:
        description = labels("tier_range", start=start, end=end)
    else:
        description = labels("tier_above", start=start)
    if not tier.flat_amount.is_zero():
        description += f" + {labels['flat_fee']} {formats.unit_price(tier.flat_amount)}"
    if tier.is_free:
        return (description, [], units, "", "")
    return (
        description,
        [],
        units,
        formats.unit_price(tier.unit_amount),
        formats.unit_price(tier.amount),
    )


def _line_column_widths(
    texts: Sequence[tuple[str, list[str | None], str, str, str]],
    styles: Styles,
    width: float,
    labels: Labels,
) -> list[float]:
    """Size the period and figure columns to their widest text; the description gets the rest."""

    def widest(values: Iterable[str | None], style: ParagraphStyle, header: str) -> float:
        return max(
            [figure_width(value, style) for value in values if value]
            + [figure_width(header, styles.table_header)]
        )

    fixed = [
        max(
            width * 0.15,
            widest((p for row in texts for p in row[1]), styles.cell_muted, labels["period"]),
        ),
        max(width * 0.09, widest((row[2] for row in texts), styles.cell_right, labels["units"])),
        max(
            width * 0.13, widest((row[3] for row in texts), styles.cell_right, labels["unit_price"])
        ),
        max(width * 0.14, widest((row[4] for row in texts), styles.cell_right, labels["amount"])),
    ]
    description = width - sum(fixed)
    minimum_description = width * MIN_DESCRIPTION_SHARE
    if description < minimum_description:
        # Absurdly long figures: the description keeps its minimum and figures shrink to fit.
        squeeze = (width - minimum_description) / sum(fixed)
        fixed = [column * squeeze for column in fixed]
        description = minimum_description
    return [description, *fixed]


def _line_period(line: InvoiceLine, locale: str) -> list[str | None]:
    start = format_day(line.from_date, locale) if line.from_date else None
    end = format_day(line.to_date, locale) if line.to_date else None
    if start and end:
        return [f"{start} {EN_DASH}", end]
    return [start or end]
