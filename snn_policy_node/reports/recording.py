"""What a recorded graph holds: per topic its type, message count, rate and time span (a rosbag2
directory, as the recorder and ``ros2 bag record`` write it, read with rosbags); and what recording
costs the control loop (``snn-robot bench recording``). Runs nothing."""

from pathlib import Path

import matplotlib
import numpy as np
from rosbags.highlevel import AnyReader

from snn_policy_node.reports.bench import loop_ratios, machine
from snn_policy_node.reports.results import write_results

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OVERHEAD_TARGET = 1.05  # the recorded policy's round-trip p99 over the unrecorded one's, at 100 Hz


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


def write_overhead_report(loop: list[dict], checkpoint: str, seconds: float, command: str, out: Path) -> dict:
    """``recording_overhead.{json,md,png}``: the recorded policy's p99 and drops over the plain one's, per window."""
    ratios = loop_ratios(loop, target="recorded", baseline="policy")
    report = {"command": command, "machine": machine(), "checkpoint": checkpoint, "seconds": seconds, "loop": loop,
              "ratios": ratios, "target": OVERHEAD_TARGET,
              "met": {rate: r["p99_over_policy"]["median"] <= OVERHEAD_TARGET for rate, r in ratios.items()}}
    return write_results(out, "recording_overhead", report, overhead_markdown, overhead_figure)


def overhead_markdown(report: dict) -> str:
    lines = ["# What recording costs the control loop", "",
             f"Reproduce with: `{report['command']}` ({report['machine']['cpu']}, {report['machine']['cores']} cores).", "",
             "Two policy nodes of the same checkpoint run side by side, each in its own process; a recorder (the "
             "`recorder` node that `record:=DIR` starts) writes every topic of the second to a rosbag2 MCAP directory. "
             f"Both are driven with joint states in alternating windows of {report['seconds']:g} s (the order reversed "
             "every other window) and answer with stamped commands; the ratios pair the two nodes' windows.", "",
             "| rate (Hz) | windows | p99 plain (ms) | p99 recorded (ms) | p99 recorded / plain, median [min, max] | "
             "drops plain / recorded | target |", "|---:|---:|---:|---:|---|---|---|"]
    for rate, ratio in report["ratios"].items():
        records = [r for r in report["loop"] if f"{r['rate_hz']:g}" == rate]
        p99 = {t: np.median([r["p99_ms"] for r in records if r["target"] == t]) for t in ("policy", "recorded")}
        drops = {t: sum(r["dropped"] for r in records if r["target"] == t) for t in ("policy", "recorded")}
        spread = ratio["p99_over_policy"]
        met = "met" if report["met"][rate] else "not met"
        lines.append(f"| {rate} | {ratio['windows']} | {p99['policy']:.3f} | {p99['recorded']:.3f} | {spread['median']:.3f} "
                     f"[{spread['min']:.3f}, {spread['max']:.3f}] | {drops['policy']} / {drops['recorded']} | "
                     f"<= {report['target']:g}: {met} |")
    return "\n".join([*lines, "", "![p99 per window](recording_overhead.png)", ""])


def overhead_figure(report: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for color, target in (("C0", "policy"), ("C1", "recorded")):
        records = [r for r in report["loop"] if r["target"] == target]
        ax.plot([r["window"] for r in records], [r["p99_ms"] for r in records], "o", color=color,
                label="recorded" if target == "recorded" else "plain")
    ax.set_xlabel("window")
    ax.set_ylabel("round-trip p99 (ms)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
