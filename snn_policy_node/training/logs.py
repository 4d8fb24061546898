"""Training logs: CSV with a header row, then a row per evaluation whose first column is the step."""

from pathlib import Path


def keep_rows_up_to(log: Path, step: int) -> list[str]:
    """Drop the rows after ``step`` (a resumed run redoes them from its checkpoint); return the rows kept."""
    header, *rows = log.read_text().splitlines()
    kept = [row for row in rows if int(float(row.split(",")[0])) <= step]
    if len(kept) < len(rows):
        log.write_text("\n".join([header, *kept]) + "\n")
    return kept


def rows(log: Path) -> list[dict[str, str]]:
    """Every row by column name; none where there is no log."""
    if not log.exists():
        return []
    header, *lines = log.read_text().splitlines()
    return [dict(zip(header.split(","), line.split(","))) for line in lines]


def last_row(log: Path) -> dict[str, str] | None:
    """The final row by column name, or None where there is no log or no row yet."""
    found = rows(log)
    return found[-1] if found else None
