import array

from snn_policy_node.brief import brief


def test_a_log_line_carries_a_bounded_part_of_what_a_peer_sent():
    huge = brief(array.array("d", [1.5]) * 10**6)
    assert huge == "[1.5, 1.5, 1.5, 1.5, 1.5, 1.5, ... (1000000 in all)]"
    names = brief(["j" * 10_000] * 1_000)
    assert len(names) < 400 and names.endswith("... (1000 in all)]")
    assert brief([1.0, 2.0]) == "[1.0, 2.0]"
