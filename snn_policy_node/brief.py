"""Sequences from outside (a peer's message, a robot's joint list) as a log line may carry them."""


def brief(values, items: int = 6, chars: int = 40) -> str:
    """The first ``items`` entries, each cut to ``chars`` characters, and how many there were:
    what a peer sends must not size our logs."""
    shown = [text if len(text := repr(v)) <= chars else f"{text[:chars]}..." for v in list(values[:items])]
    more = f", ... ({len(values)} in all)" if len(values) > items else ""
    return f"[{', '.join(shown)}{more}]"
