import numpy as np

from snn_policy_node.engine import synapses


def test_a_population_s_own_weights_add_the_same_terms_as_one_shared_layer():
    generator = np.random.default_rng(4)
    spikes = (generator.random((4, 6, 64)) < 0.3).astype(np.float32)
    weight = generator.normal(size=(32, 64)).astype(np.float32)
    bias = generator.normal(size=32).astype(np.float32)
    shared = synapses.propagate(spikes, np.ascontiguousarray(weight.T)[None], np.zeros(6, dtype=np.int64), bias,
                                np.empty((4, 6, 32), np.float32))
    population = np.stack([weight * 0.5, weight])  # every row takes the second
    rows = np.ones(6, dtype=np.int64)
    added = synapses.propagate(spikes, np.ascontiguousarray(population.transpose(0, 2, 1)), rows, bias,
                               np.empty((4, 6, 32), np.float32))
    assert np.array_equal(shared, added)
    np.testing.assert_allclose(shared, spikes @ weight.T + bias, rtol=0, atol=1e-5)


def test_each_row_adds_the_weights_of_its_own_variant():
    generator = np.random.default_rng(7)
    spikes = (generator.random((3, 5, 16)) < 0.4).astype(np.float32)
    population = generator.normal(size=(3, 16, 8)).astype(np.float32)  # [variants, in, out]
    bias = generator.normal(size=8).astype(np.float32)
    rows = np.array([2, 0, 2, 1, 0])
    currents = synapses.propagate(spikes, population, rows, bias, np.empty((3, 5, 8), np.float32))
    expected = np.einsum("tbi,bio->tbo", spikes, population[rows]) + bias
    np.testing.assert_allclose(currents, expected, rtol=0, atol=1e-5)


def test_analog_inputs_skip_zeros_and_sum_like_a_product_in_either_layout():
    generator = np.random.default_rng(5)
    x = generator.normal(size=(6, 20)).astype(np.float32) * (generator.random((6, 20)) < 0.5)
    weight = generator.normal(size=(16, 20)).astype(np.float32)
    bias = generator.normal(size=16).astype(np.float32)
    zeros = np.zeros(6, dtype=np.int64)
    transposed = synapses.analog(x, np.ascontiguousarray(weight.T)[None], zeros, True, bias, np.empty((6, 16), np.float32))
    rows = synapses.analog(x, weight[None], zeros, False, bias, np.empty((6, 16), np.float32))
    assert np.array_equal(transposed, rows)
    np.testing.assert_allclose(rows, x @ weight.T + bias, rtol=0, atol=1e-5)
