#!/usr/bin/env python3
"""Evaluates a converted .tflite model (and optionally the Keras model it came from) on
held-out rows and writes a JSON report: what the TFLite interpreter found when it loaded and
allocated the model (input/output dtypes, shapes and quantization, the ops, the number of
float32 tensors inside, the file size) and the accuracy of each model.

Trusted code of autopilot, still run in the sandbox (crates/autopilot-toolchain/src/python.rs)
because the models it loads are written by an LLM. The Rust side reads the report as
`autopilot_steps::ModelReport` and judges it (`autopilot_steps::judge`).

    autopilot_eval.py --tflite M.tflite [--keras K.keras] --data held_out.csv
        --features c1,c2,... --label-column label --classes a,b,c --out report.json

Exit status: 0 with a report, also when the model does not load (`"loaded": false` and an
`"error"`) or cannot be evaluated (accuracy `null` and an `"error"`); 2 for bad arguments
(argparse); 1 when the report cannot be written.
"""

import argparse
import csv
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tflite", required=True)
    p.add_argument("--keras")
    p.add_argument("--data", required=True, help="held-out CSV with the feature and label columns")
    p.add_argument("--features", required=True, help="comma-separated feature columns, in model input order")
    p.add_argument("--label-column", required=True)
    p.add_argument("--classes", required=True, help="comma-separated class names, in model output order")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    args.features = [c.strip() for c in args.features.split(",") if c.strip()]
    args.classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    if not args.features or not args.classes:
        p.error("--features and --classes need at least one name each")
    return args


def interpreter_class():
    """ai-edge-litert's interpreter, or TensorFlow's when that package is missing."""
    try:
        from ai_edge_litert import interpreter as litert

        return litert.Interpreter, litert.OpResolverType, "ai_edge_litert"
    except ImportError:
        import tensorflow as tf

        return tf.lite.Interpreter, tf.lite.experimental.OpResolverType, "tf.lite"


def make_interpreter(path, cls, resolver):
    # The builtin kernels without the default (XNNPACK) delegate: the op list stays the
    # model's own (a delegate replaces ops by one DELEGATE node) and the arithmetic is the
    # reference kernels', closer to what TFLM runs on the device.
    return cls(model_path=path, experimental_op_resolver_type=resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def tensor_info(detail):
    scale, zero_point = detail.get("quantization", (0.0, 0))
    quantization = None
    if scale:
        quantization = {"scale": float(scale), "zero_point": int(zero_point)}
    return {
        "name": detail.get("name", ""),
        "dtype": np.dtype(detail["dtype"]).name,
        "shape": [int(d) for d in detail["shape"]],
        "quantization": quantization,
    }


def read_rows(path, features, label_column, classes):
    """(features as float32 rows, class indices); raises ValueError naming the problem."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in features + [label_column] if c not in header]
        if missing:
            raise ValueError(f"{path}: missing columns {missing} (has {header})")
        lookup = {c: i for i, c in enumerate(classes)}
        folded = {c.lower(): i for i, c in enumerate(classes)}
        xs, ys = [], []
        for line, row in enumerate(reader, start=2):
            label = (row[label_column] or "").strip()
            index = lookup.get(label, folded.get(label.lower()))
            if index is None:
                raise ValueError(f"{path}:{line}: label {label!r} is not one of {classes}")
            try:
                xs.append([float(row[c]) for c in features])
            except (TypeError, ValueError):
                raise ValueError(f"{path}:{line}: a feature is not a number: {[row[c] for c in features]}")
            ys.append(index)
    if not xs:
        raise ValueError(f"{path}: no rows")
    return np.asarray(xs, dtype=np.float32), np.asarray(ys)


def quantize(x, detail):
    """Float inputs to the input tensor's integer type with its scale and zero point."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return x.astype(dtype)
    scale, zero_point = detail["quantization"]
    if not scale:
        raise ValueError(f"the {dtype.name} input has no quantization parameters")
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)


def tflite_accuracy(interpreter, xs, ys):
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    shape = [int(d) for d in inp["shape"]]
    if int(np.prod(shape)) != xs.shape[1]:
        raise ValueError(f"the input tensor {shape} does not take {xs.shape[1]} features per row")
    correct = 0
    for x, y in zip(xs, ys):
        interpreter.set_tensor(inp["index"], quantize(x, inp).reshape(shape))
        interpreter.invoke()
        # argmax is the same on quantized scores (the scale is positive).
        correct += int(np.argmax(interpreter.get_tensor(out["index"]).reshape(-1)) == y)
    return correct / len(ys)


def keras_accuracy(path, xs, ys):
    import keras

    # safe_mode (the default) refuses Lambda layers that would run pickled code.
    model = keras.models.load_model(path, compile=False, safe_mode=True)
    scores = np.asarray(model.predict(xs, verbose=0))
    return float(np.mean(np.argmax(scores.reshape(len(ys), -1), axis=1) == ys))


def evaluate(args):
    report = {
        "loaded": False,
        "error": None,
        "interpreter": None,
        "input": None,
        "output": None,
        "ops": [],
        "float_tensors": None,
        "size_bytes": os.path.getsize(args.tflite) if os.path.isfile(args.tflite) else 0,
        "tflite_accuracy": None,
        "keras_accuracy": None,
        "keras_error": None,
        "rows": 0,
    }
    try:
        cls, resolver, report["interpreter"] = interpreter_class()
        interpreter = make_interpreter(args.tflite, cls, resolver)
        interpreter.allocate_tensors()
    except Exception as e:  # any failure to load is the model's, reported as data
        report["error"] = f"{type(e).__name__}: {e}"
        return report
    report["loaded"] = True
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    report["input"] = tensor_info(inputs[0]) if inputs else None
    report["output"] = tensor_info(outputs[0]) if outputs else None
    ops = []
    for op in interpreter._get_ops_details():
        if op["op_name"] not in ops:
            ops.append(op["op_name"])
    report["ops"] = ops
    io = {d["index"] for d in inputs + outputs}
    report["float_tensors"] = sum(
        1 for t in interpreter.get_tensor_details() if t["index"] not in io and np.dtype(t["dtype"]) == np.float32
    )
    try:
        xs, ys = read_rows(args.data, args.features, args.label_column, args.classes)
    except (OSError, ValueError) as e:
        report["error"] = str(e)
        return report
    try:
        report["tflite_accuracy"] = tflite_accuracy(interpreter, xs, ys)
        report["rows"] = int(len(ys))
    except Exception as e:  # the model's fault (shape, types): reported, not raised
        report["error"] = f"{type(e).__name__}: {e}"
    if args.keras:
        try:
            report["keras_accuracy"] = keras_accuracy(args.keras, xs, ys)
            report["rows"] = int(len(ys))
        except Exception as e:
            report["keras_error"] = f"{type(e).__name__}: {e}"
    return report


def main(argv):
    args = parse_args(argv)
    report = evaluate(args)
    try:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    except OSError as e:
        print(f"autopilot_eval: cannot write {args.out}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
