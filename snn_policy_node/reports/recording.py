"""What a recorded graph holds: per topic its type, message count, rate and time span (a rosbag2
directory, as the recorder and ``ros2 bag record`` write it, read with rosbags)."""

from pathlib import Path

from rosbags.highlevel import AnyReader


def recording_summary(path: str | Path) -> dict:
    """``{"duration_s", "messages", "topics": [{"topic", "type", "count", "rate_hz", "first_s", "last_s"}]}``,
    times in seconds from the recording's start; a topic's rate is its messages over its own span."""
    with AnyReader([Path(path)]) as reader:
        stamps: dict[str, list[int]] = {c.topic: [] for c in reader.connections}
        for connection, timestamp, _ in reader.messages():
            stamps[connection.topic].append(timestamp)
        start = reader.start_time
        topics = []
        for connection in sorted(reader.connections, key=lambda c: c.topic):
            times = stamps[connection.topic]
            span = (times[-1] - times[0]) * 1e-9 if len(times) > 1 else 0.0
            topics.append({"topic": connection.topic, "type": connection.msgtype, "count": len(times),
                           "rate_hz": (len(times) - 1) / span if span > 0 else None,
                           "first_s": (times[0] - start) * 1e-9 if times else None,
                           "last_s": (times[-1] - start) * 1e-9 if times else None})
        return {"duration_s": reader.duration * 1e-9, "messages": reader.message_count, "topics": topics}


def summary_table(summary: dict) -> str:
    """The summary as aligned text, one topic a line."""
    rows = [("topic", "type", "messages", "rate (Hz)", "from (s)", "to (s)")]
    for t in summary["topics"]:
        rows.append((t["topic"], t["type"], str(t["count"]), "-" if t["rate_hz"] is None else f"{t['rate_hz']:.1f}",
                     "-" if t["first_s"] is None else f"{t['first_s']:.2f}", "-" if t["last_s"] is None else f"{t['last_s']:.2f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join([f"{summary['messages']} messages over {summary['duration_s']:.2f} s", *lines])
