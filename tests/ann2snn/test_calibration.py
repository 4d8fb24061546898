import torch

from snn_policy_node.ann2snn.calibration import AdaptiveIterations, CalibrationConfig
from snn_policy_node.ann2snn.conversion import SpikingActor


def error_spike_totals(spiking: SpikingActor, obs: torch.Tensor, iterations: int) -> list[int]:
    return spiking.simulate(obs, iterations).error_spikes.sum(0).round().int().tolist()


def test_calibration_lowers_error_spikes_against_the_source_network(random_qcfs_actor):
    """Measured counts (per hidden layer, 5 random 11-256-256-3 networks, 256 random inputs):
    printed with -s; the closing note of the core-library work quotes them."""
    for seed in range(5):
        spiking = SpikingActor.from_qcfs(random_qcfs_actor(seed))
        obs = torch.randn(256, 11, generator=torch.Generator().manual_seed(100 + seed))
        counts = {i: error_spike_totals(spiking, obs, i) for i in range(4)}
        print(f"network {seed}: error spikes per layer for I=0..3: {counts}")
        assert sum(counts[0]) > 500
        for i in (1, 2, 3):
            assert sum(counts[i]) < sum(counts[0]) / 20
        assert sum(counts[3]) <= sum(counts[1])


def test_literal_algorithm_1_undoes_its_first_pass_in_the_second(random_qcfs_actor):
    spiking = SpikingActor.from_qcfs(random_qcfs_actor(0), calibration=CalibrationConfig(accumulate=False))
    obs = torch.randn(256, 11, generator=torch.Generator().manual_seed(7))
    counts = [sum(error_spike_totals(spiking, obs, i)) for i in range(4)]
    print(f"literal Algorithm 1, error spikes for I=0..3: {counts}")
    assert counts[1] < counts[0] / 20 and counts[3] < counts[0] / 20
    assert counts[2] > counts[0] / 2


def test_calibrated_action_is_closer_to_the_source_action(random_qcfs_actor):
    spiking = SpikingActor.from_qcfs(random_qcfs_actor(3))
    obs = torch.randn(256, 11)
    target = spiking.source_action(obs)
    uncalibrated = (spiking(obs, 0) - target).abs().mean()
    calibrated = (spiking(obs, 1) - target).abs().mean()
    assert calibrated < uncalibrated / 10


def test_per_environment_iterations_match_separate_runs(random_qcfs_actor):
    spiking = SpikingActor.from_qcfs(random_qcfs_actor(4))
    obs = torch.randn(4, 11)
    iterations = torch.tensor([0, 1, 2, 3])
    mixed = spiking(obs, iterations)
    separate = torch.cat([spiking(obs[k : k + 1], int(iterations[k])) for k in range(4)])
    torch.testing.assert_close(mixed, separate)


def test_adaptive_iterations_follow_algorithm_2():
    adaptive = AdaptiveIterations(i_min=0, i_max=2, batch=3)
    assert adaptive.update(torch.tensor([3.0, 0.0, 1.0])).tolist() == [1, 0, 1]
    assert adaptive.update(torch.tensor([1.0, 0.0, 0.0])).tolist() == [2, 0, 0]
    assert adaptive.update(torch.tensor([1.0, 2.0, 0.0])).tolist() == [0, 1, 0]  # at I_max: back to I_min
    adaptive.reset()
    assert adaptive.iterations.tolist() == [0, 0, 0]
