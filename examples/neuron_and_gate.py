"""Lesson 1: a single neuron, the AND gate, and why XOR needs a hidden layer.

A neuron with hand-set weights (bias -30, weights 20 and 20) computes AND,
with a step activation exactly and with a sigmoid almost exactly. Then one
sigmoid neuron learns AND, OR and NAND from the four rows of their truth
table; it cannot learn XOR (the two classes are not separable by a line: the
loss stays at log 2 and dnn warns that training stalled), and a hidden layer
of four tanh units can.

Run: ``python examples/neuron_and_gate.py`` (``--quick``: fewer seeds).
"""

import argparse
import warnings

import numpy as np

from dnn import DNN, TrainingStalledWarning

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
GATES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "NAND": [1, 1, 1, 0], "XOR": [0, 1, 1, 0]}


def hand_set_neuron(activation):
    """One neuron 2 -> 1 with the textbook weights: -30 + 20 x1 + 20 x2."""
    model = DNN(dtype="float64")
    model.addInputLayer([2])
    model.addOutputLayer([1], activation=activation)
    model.w[2] = np.array([[20.0], [20.0]])
    model.b[2] = np.array([-30.0])
    return model


def learns(gate, seed, hidden):
    """Whether a network (one sigmoid neuron, or with a hidden layer) learns ``gate`` from its truth table."""
    model = DNN(lr=1.0, seed=seed)
    model.addInputLayer([2])
    if hidden:
        model.addHiddenLayer([4], activation="tanh")
    model.addOutputLayer([1], activation="sigmoid")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TrainingStalledWarning)
        model.fit(X, GATES[gate], epochs=500, batchSize=4, verbose=0)
    stalled = any(issubclass(w.category, TrainingStalledWarning) for w in caught)
    return bool(np.array_equal(model.predict(X), GATES[gate])), stalled


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds instead of 10")
    args = parser.parse_args(argv)
    seeds = range(3 if args.quick else 10)

    print("A neuron with hand-set weights: bias -30, weights 20, 20")
    for activation in ("step", "sigmoid"):
        out = hand_set_neuron(activation).forwardPropagation(X).ravel()
        print(f"  {activation:7s} x1 x2 = 00 01 10 11 -> {np.array2string(out, precision=6)}")

    print(f"\nOne sigmoid neuron trained on each truth table ({len(seeds)} seeds, 500 epochs, lr 1):")
    for gate in GATES:
        results = [learns(gate, seed, hidden=False) for seed in seeds]
        stalls = sum(stalled for _, stalled in results)
        note = f" (stall warning in {stalls})" if stalls else ""
        print(f"  {gate:5s} learned in {sum(ok for ok, _ in results)}/{len(seeds)} seeds{note}")
    learned = sum(learns("XOR", seed, hidden=True)[0] for seed in seeds)
    print(f"\nXOR with a hidden layer of 4 tanh units: learned in {learned}/{len(seeds)} seeds")


if __name__ == "__main__":
    main()
