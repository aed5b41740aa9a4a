"""The TFLM oracle of the host check's tests: runs a .tflite model with PyPI tflite-micro (the
current TFLM interpreter, independent of the 2020 sources the host check is built from).

Reads JSON {"model": path, "inputs": [[float, ...], ...]} on stdin; prints JSON [[float, ...], ...],
the first output tensor for each input row, on stdout.
"""

import json
import sys

import numpy as np
from tflite_micro import runtime


def main() -> None:
    request = json.load(sys.stdin)
    interpreter = runtime.Interpreter.from_file(request["model"], arena_size=64 * 1024)
    detail = interpreter.get_input_details(0)
    outputs = []
    for row in request["inputs"]:
        tensor = np.array(row, dtype=detail["dtype"]).reshape(detail["shape"])
        interpreter.set_input(tensor, 0)
        interpreter.invoke()
        outputs.append([float(v) for v in interpreter.get_output(0).flatten()])
    json.dump(outputs, sys.stdout)


if __name__ == "__main__":
    main()
