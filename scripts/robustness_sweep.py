#!/usr/bin/env python3
"""A fuzz-style sweep of the slimrt CLI as a careless or hostile user drives it.

    /usr/bin/python3 scripts/robustness_sweep.py --cli build/slimrt [--seed 0] [--time-budget 90]

It generates several hundred cases from a fixed seed: malformed and hostile .npy headers and
bodies, --shapes and --min/--opt/--max strings, numeric options (--seed, --iterations, --warmup,
--layers, --batch), build options (--target, -o), output paths, and models that are directories,
self-loops or read external data through a link. Every file it makes or names lives in a fresh
temporary directory; no user file is touched. Each case runs with a timeout and is classified:

  crash            killed by a signal, exit code >= 128, or sanitizer / std::terminate / internal
                   check text in the output, or an Internal error (a bug, whatever its exit code)
  hang             still running at the case timeout
  wrong exit code  an exit code the case's class does not allow (docs/cli.md: 0 ok, 1 runtime
                   failure, 2 bad usage or bad input)
  failed check     a file the case must leave alone changed, or an accepted input was read as
                   something else than it says

It prints one line per failure and the summary "N cases: C crashes, H hangs, W wrong exit codes,
F failed checks", and exits 1 unless all four are 0. The cases depend only on --seed; the time
budget only stops it early (cases not run are reported, not failed). CI runs it as the ctest
test robustness_sweep (label cpu).
"""
import argparse
import ast
import concurrent.futures
import hashlib
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import numpy as np

INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1
MAX_ITERATIONS = 1_000_000
CRASH_TEXT = ("terminate called", "AddressSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
              "internal check failed", "Segmentation fault", "Aborted", "bad_variant_access",
              "unexpected exception", "core dumped", "error: Internal:")
IMAGE = (1, 3, 64, 64)  # tinynet's input: image [batch,3,64,64] float32


class Case:
    def __init__(self, cls, args, expect, check=None, note=""):
        self.cls = cls          # the case class, for the report
        self.args = args        # argv after the CLI path
        self.expect = set(expect)
        self.check = check      # f(output) -> None or a failure message, run after the command
        self.note = note


# ---- fixtures -------------------------------------------------------------------------------

def write_models(d, source_dir):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    f = TensorProto.FLOAT
    opset = [helper.make_opsetid("", 17)]
    shutil.copy(os.path.join(source_dir, "models", "tinynet.onnx"), os.path.join(d, "tinynet.onnx"))
    # y = x + x, every dim symbolic.
    g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", f, ["a", "b", "c", "d"])],
                          [helper.make_tensor_value_info("y", f, ["a", "b", "c", "d"])])
    onnx.save(helper.make_model(g, opset_imports=opset), os.path.join(d, "dynamic.onnx"))
    # A self-loop: Add(x, a) -> a.
    g = helper.make_graph([helper.make_node("Add", ["x", "a"], ["a"], name="loop")], "g",
                          [helper.make_tensor_value_info("x", f, [2])],
                          [helper.make_tensor_value_info("a", f, [2])])
    onnx.save(helper.make_model(g, opset_imports=opset), os.path.join(d, "self_loop.onnx"))

    def external_model(path, location):
        w = numpy_helper.from_array(np.ones((8, 8), dtype=np.float32), "w")
        w.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", "0"), ("length", "256")):
            e = w.external_data.add()
            e.key, e.value = k, v
        w.ClearField("raw_data")
        g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", f, [1, 8])],
                              [helper.make_tensor_value_info("y", f, [1, 8])], [w])
        onnx.save(helper.make_model(g, opset_imports=opset), path)

    os.makedirs(os.path.join(d, "ext", "sub"), exist_ok=True)
    os.makedirs(os.path.join(d, "outside"), exist_ok=True)
    np.ones(64, dtype=np.float32).tofile(os.path.join(d, "ext", "weights.bin"))
    np.full(64, 7, dtype=np.float32).tofile(os.path.join(d, "outside", "secret.bin"))
    external_model(os.path.join(d, "ext", "good.onnx"), "weights.bin")
    os.symlink(os.path.join(d, "outside", "secret.bin"), os.path.join(d, "ext", "sub", "link.bin"))
    external_model(os.path.join(d, "ext", "escape_link.onnx"), "sub/link.bin")
    os.makedirs(os.path.join(d, "ext", "a_dir.bin"), exist_ok=True)
    external_model(os.path.join(d, "ext", "dir_data.onnx"), "a_dir.bin")
    os.makedirs(os.path.join(d, "model_dir.onnx"), exist_ok=True)


def npy_bytes(header, data=b"", version=(1, 0)):
    """A .npy file with this header text (padded as numpy pads it) and data."""
    h = header.encode("latin-1") if isinstance(header, str) else header
    len_bytes = 2 if version[0] == 1 else 4
    pad = (64 - (8 + len_bytes + len(h) + 1) % 64) % 64
    h = h + b" " * pad + b"\n"
    return (b"\x93NUMPY" + bytes(version) + len(h).to_bytes(len_bytes, "little") + h + data)


def canonical_header(shape, descr="<f4", fortran="False"):
    dims = ", ".join(str(x) for x in shape) + ("," if len(shape) == 1 else "")
    return "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, fortran, dims)


def reference_header(text):
    """What a strict reader must make of a header: (descr, shape) when numpy's rules accept it
    with int (not bool) dims >= 0 that fit int64, else None."""
    try:
        d = ast.literal_eval(text)
    except Exception:  # noqa: BLE001 - any parse failure means "not a valid header"
        return None
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        return None
    if type(d["fortran_order"]) is not bool or not isinstance(d["descr"], str):
        return None
    s = d["shape"]
    if type(s) is not tuple or any(type(x) is not int or x < 0 or x > INT64_MAX for x in s):
        return None
    return d["descr"], d["fortran_order"], s


# ---- case generators ------------------------------------------------------------------------

class Sweep:
    def __init__(self, cli, work, rng):
        self.cli, self.work, self.rng = cli, work, rng
        self.cases = []
        self.n_files = 0
        self.tinynet = os.path.join(work, "tinynet.onnx")
        self.engine = os.path.join(work, "tinynet.engine")

    def file(self, content, suffix=".npy"):
        self.n_files += 1
        path = os.path.join(self.work, "in", "f%04d%s" % (self.n_files, suffix))
        with open(path, "wb") as fh:
            fh.write(content)
        return path

    def out(self, name="x.engine"):
        """A fresh output path: concurrent cases never write the same file."""
        self.n_files += 1
        return os.path.join(self.work, "out", "%04d_%s" % (self.n_files, name))

    def add(self, *a, **k):
        self.cases.append(Case(*a, **k))

    def run_npy(self, cls, content, expect, check=None, note=""):
        path = self.file(content)
        self.add(cls, ["run", self.tinynet, "--backend", "cpu", "--json", "--input", "image=" + path], expect, check, note)

    # .npy headers: mutations of numpy's header, judged against Python's own literal reader.
    def npy_headers(self, n):
        good = canonical_header(IMAGE)
        data = np.zeros(IMAGE, dtype=np.float32).tobytes()
        tokens = ["(", ")", ",", "'", '"', ":", "{", "}", "[", "]", " ", "-", "+", ".", "1", "0", "9", "True",
                  "False", "None", "\\", "#", "\n", "\x00", "\xff", "0x1", "1_0", "1e3", "j", "'a'", "9" * 20,
                  "9223372036854775808", "-1", "shape", "descr", "<f8", "|b1", ">f4"]
        fixed = [
            "(-1, 3, 64, 64)", "(1, 3, 64.64)", "('a', 1, 3, 64, 64)", "(1 3 64 64)", "(1.5,3,64,64)",
            "(True, 3, 64, 64)", "(1, 3, 64, 64,)", "(1,3,64,64)", "( 1 , 3 , 64 , 64 )", "(01, 3, 64, 64)",
            "(+1, 3, 64, 64)", "(-0, 3, 64, 64)", "(0x1, 3, 64, 64)", "(1_0, 3, 64, 64)", "[1, 3, 64, 64]",
            "(1, (3, 64), 64)", "((1, 3, 64, 64))", "(1, 3, 64, 64, 1)", "(3, 64, 64)", "(9223372036854775808, 3, 64, 64)",
            "(1, 3, 64, None)", "()", "(,)", "(1,,3,64,64)", "1, 3, 64, 64",
        ]
        texts = ["{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % s for s in fixed]
        texts += [good.replace("'", '"'), good.replace(" ", ""), good.replace(", }", "}"), good + " junk",
                  good.replace("'descr'", "'descr' 'x'"), good.replace("False", "0"), good.replace("<f4", "=f4"),
                  good.replace("<f4", ">f4"), good.replace("<f4", "<f8"), good.replace("False", "True"),
                  good[:-2] + ", 'extra': 1}", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64)}",
                  "{'descr': '<f4', 'shape': (1, 3, 64, 64)}", "", "{}", "{", "[]", "None", good.replace("{", "{{"),
                  "\t" + good, good.replace("'<f4'", "'<f' '4'"), good.replace("'<f4'", "b'<f4'"),
                  good.replace("'<f4'", "'\\x3cf4'"), good + "# comment"]
        while len(texts) < n:
            t = list(good)
            for _ in range(self.rng.randint(1, 3)):
                op = self.rng.random()
                pos = self.rng.randrange(len(t) + 1)
                if op < 0.4:
                    t.insert(pos, self.rng.choice(tokens))
                elif op < 0.7 and t:
                    del t[min(pos, len(t) - 1)]
                elif t:
                    t[min(pos, len(t) - 1)] = self.rng.choice(tokens)
            texts.append("".join(t))
        for text in texts[:n]:
            # Refused unless numpy's rules accept it as tinynet's input; then read as numpy reads it,
            # or refused by slimrt's stricter grammar (no escapes, comments, string concatenation).
            payload, expect, check = data, {2}, None
            ref = reference_header(text)
            if ref is not None:
                descr, fortran, shape = ref
                if descr in ("<f4", "=f4") and not fortran and len(shape) == 4 and tuple(shape[1:]) == IMAGE[1:] \
                        and 1 <= shape[0] <= 4:
                    payload = np.zeros(shape, dtype=np.float32).tobytes()
                    expect, check = {0, 2}, self.shape_check(shape)
            self.run_npy("npy header", npy_bytes(text.encode("latin-1", "replace"), payload), expect, check, repr(text))

    @staticmethod
    def shape_check(shape):
        import json

        def check(output):
            try:
                got = json.loads(output)["inputs"][0]["shape"]
            except Exception:  # noqa: BLE001
                return None  # refused (exit 2): nothing was read
            return None if tuple(got) == tuple(shape) else "the input was read as %s, the header says %s" % (got, shape)
        return check

    # .npy bodies and files that are not .npy files at all.
    def npy_bodies(self):
        good = canonical_header(IMAGE)
        data = np.zeros(IMAGE, dtype=np.float32).tobytes()
        self.run_npy("npy body", npy_bytes(good, data), {0}, self.shape_check(IMAGE), "exact")
        for cut in (1, 4, len(data) // 2, len(data) - 1, len(data)):
            self.run_npy("npy body", npy_bytes(good, data[:len(data) - cut]), {2}, note="short by %d" % cut)
        for extra in (1, 8, 4096):
            self.run_npy("npy body", npy_bytes(good, data + b"\0" * extra), {2}, note="long by %d" % extra)
        for version in ((2, 0), (3, 0)):
            self.run_npy("npy body", npy_bytes(good, data, version), {0}, self.shape_check(IMAGE), "version %s" % (version,))
        for version in ((4, 0), (1, 1), (0, 0), (255, 255)):
            self.run_npy("npy body", npy_bytes(good, data, version), {2}, note="version %s" % (version,))
        whole = npy_bytes(good, data)
        for n in (0, 1, 6, 8, 9, 10, 20, 127):
            self.run_npy("npy body", whole[:n], {2}, note="first %d bytes" % n)
        for length in (0, 1, 0xFFFF):
            self.run_npy("npy body", b"\x93NUMPY\x01\x00" + length.to_bytes(2, "little") + good.encode() + data, {2},
                         note="header length %d" % length)
        self.run_npy("npy body", b"\x93NUMPY\x02\x00" + (0xFFFFFFFF).to_bytes(4, "little") + b"{}", {2}, note="4 GiB header")
        self.run_npy("npy body", b"\x93NUMPY\x02\x00" + (3 << 20).to_bytes(4, "little") + b" " * (3 << 20), {2},
                     note="3 MiB header")
        for _ in range(6):
            self.run_npy("npy body", bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 400))), {2},
                         note="random bytes")
            self.run_npy("npy body", b"\x93NUMPY\x01\x00" + bytes(self.rng.randrange(256) for _ in range(200)), {2},
                         note="magic then random bytes")
        for shape, descr in (((2**62,), "<f4"), ((2**62,), "|u1"), ((2**32 + 1,), "<f4"), ((2**63 - 1,), "|u1"),
                             ((2**31, 2**31, 4), "<f4"), ((2**40, 2**40), "<f4"), ((2**63,), "<f4"), ((2**64,), "|u1"),
                             ((0, 3, 64, 64), "<f4"), ((1, 3, 64, 64), "<f4", ), ((1, 3, 64, 64), "<i8"),
                             ((1, 3, 64, 64), "|b1"), ((1, 3, 64, 64), "<c8"), ((1, 3, 64, 64), "|O"), ((1, 3, 64, 64), "<U3")):
            n = 1
            for x in shape:
                n *= x
            body = data if n * 4 == len(data) and descr == "<f4" else b"\0" * 64
            expect = {0} if body is data else {2}
            if shape[0] == 0:
                expect = {0, 2}  # an empty batch: run, or refused with a reason
                body = b""
            self.run_npy("npy body", npy_bytes(canonical_header(shape, descr), body), expect, note="%s %s" % (descr, shape))
        self.run_npy("npy body", npy_bytes(canonical_header(IMAGE, fortran="True"), data), {2}, note="fortran order")
        # Not files: a directory, a FIFO nobody writes to, a missing path, /dev/null.
        d = os.path.join(self.work, "in", "a_dir.npy")
        os.makedirs(d, exist_ok=True)
        fifo = os.path.join(self.work, "in", "fifo.npy")
        os.mkfifo(fifo)
        for path in (d, fifo, os.path.join(self.work, "in", "missing.npy"), "/dev/null", "/nonexistent/x.npy", ""):
            self.add("npy file", ["run", self.tinynet, "--backend", "cpu", "--input", "image=" + path], {2}, note=path)

    # --shapes, on the ONNX model and on the engine (whose profile is 1..4 x 3x64x64).
    def shape_strings(self, n):
        parts = ["1", "2", "3", "4", "64", "0", "-1", "", "x", "9" * 19, "9" * 25, "9223372036854775807",
                 "9223372036854775808", "1099511627776", "1000000", "1e3", "1.5", " ", "a", "0x10", "+1", "１", "00"]
        texts = ["1x3x64x64", "2x3x64x64", "4x3x64x64", "1x3x64x64x", "x1x3x64x64", "1xx3x64x64", "", "1X3X64X64",
                 "1x3x64", "1x3x64x64x1", "1000000x3x64x64", "1000000000x3x64x64", "1000000000000x3x64x64",
                 "1099511627776x1099511627776", "750599937895083x3x64x64", "9223372036854775807x3x64x64",
                 "9223372036854775808x3x64x64", "-1x3x64x64", "1x3x64x64 ", " 1x3x64x64", "0x3x64x64", "1x4x64x64"]
        while len(texts) < n:
            texts.append("x".join(self.rng.choice(parts) for _ in range(self.rng.randint(1, 5))))
        for text in texts[:n]:
            dims = parse_dims_reference(text)
            for target in ("onnx", "engine"):
                model = self.tinynet if target == "onnx" else self.engine
                args = ["run", model, "--backend", "cpu", "--shapes", "image:" + text]
                if dims is None:
                    expect = {2}
                elif len(dims) != 4 or tuple(dims[1:]) != IMAGE[1:]:
                    expect = {2}
                elif target == "engine":
                    expect = {0} if 1 <= dims[0] <= 4 else {2}
                elif 1 <= dims[0] <= 8:
                    expect = {0}
                elif dims[0] == 0:
                    expect = {0, 2}
                elif dims[0] * 3 * 64 * 64 * 4 > INT64_MAX:
                    expect = {2}
                elif dims[0] * 3 * 64 * 64 * 4 > host_memory_bytes():
                    expect = {1}
                else:
                    continue  # would really allocate and run: not a robustness case
                self.add("--shapes " + target, args, expect, note=text)
        for args, expect in (([":1x3x64x64"], {2}), (["image"], {2}), (["nosuch:1x3x64x64"], {2}),
                             (["image:1x3x64x64", "image:2x3x64x64"], {2}), (["image:"], {2}), (["image::1x3x64x64"], {2})):
            a = ["run", self.tinynet, "--backend", "cpu"]
            for s in args:
                a += ["--shapes", s]
            self.add("--shapes onnx", a, expect, note=" ".join(args))

    # --min/--opt/--max on `slimrt build`.
    def profile_strings(self, n):
        good = ("1x3x64x64", "2x3x64x64", "4x3x64x64")
        variants = []
        for which in range(3):
            for text in ("1xfoo", "", "1x3x64", "9" * 25 + "x3x64x64", "-1x3x64x64", "1.5x3x64x64", "1x3x64x64x"):
                v = list(good)
                v[which] = text
                variants.append((v, {2}))
        variants += [(list(good), {0}), (["4x3x64x64", "2x3x64x64", "1x3x64x64"], {2}),
                     (["1x3x64x64", "1x3x64x64", "1x3x64x64"], {0}),
                     (["1x3x64x64", "1x3x64x64", "1000000000000x3x64x64"], {0, 2}),  # warn or refuse (issue 13, 9)
                     (["1x3x64x64", "1x3x64x64", "9223372036854775807x3x64x64"], {0, 2}),
                     (["1x3x32x32", "1x3x64x64", "1x3x64x64"], {2})]
        for k, (v, expect) in enumerate(variants[:n]):
            args = ["build", self.tinynet, "-o", self.out(), "--min", "image:" + v[0], "--opt", "image:" + v[1], "--max", "image:" + v[2]]
            self.add("--min/--opt/--max", args, expect, note=" ".join(v))
        self.add("--min/--opt/--max", ["build", os.path.join(self.work, "dynamic.onnx"), "-o", self.out(),
                                        "--min", "x:1x1x1x1", "--opt", "x:1x1x1x1", "--max", "x:1099511627776x1099511627776x1x1"], {2},
                 note="2^80 elements")

    # Numbers: run --seed/--iterations/--warmup, inspect --layers, bench --batch/--iterations/--warmup/--seed.
    def numeric_options(self):
        values = ["-1", "0", "1", "2", "3", "1e3", "1.5", "", "+1", " 1", "0x10", "abc", "18446744073709551615",
                  "18446744073709551616", "99999999999999999999999", "-9223372036854775808", "9223372036854775807",
                  "9223372036854775808", "٣", "1000000", "1000001", "2147483648", "-0"]

        def as_int(text, signed=True):
            """The value slimrt must read from an option's text: decimal digits, '-' first for signed
            options; None for anything else."""
            digits = text[1:] if signed and text.startswith("-") else text
            if not digits or not all(c in "0123456789" for c in digits):
                return None
            return int(text)

        def in_range(text, lo, hi, signed=True):
            v = as_int(text, signed)
            return v is not None and lo <= v <= hi

        run = ["run", self.engine, "--backend", "cpu"]
        for v in values:
            self.add("--seed", run + ["--seed", v], {0} if in_range(v, 0, UINT64_MAX, signed=False) else {2}, note=v)
            for opt, lo in (("--iterations", 1), ("--warmup", 0)):
                ok = in_range(v, lo, MAX_ITERATIONS)
                if not ok or as_int(v) <= 3:  # valid large counts only take time
                    self.add(opt, run + [opt, v], {0} if ok else {2}, note=v)
            self.add("--layers", ["inspect", self.engine, "--layers", v], {0} if in_range(v, 0, INT64_MAX) else {2}, note=v)
            for opt, lo, hi in (("--batch", 1, INT64_MAX), ("--iterations", 1, MAX_ITERATIONS),
                                ("--warmup", 2, MAX_ITERATIONS), ("--seed", 0, UINT64_MAX)):
                if not in_range(v, lo, hi, signed=opt != "--seed"):  # valid values need a GPU
                    self.add("bench " + opt, ["bench", self.engine, opt, v], {2}, note=v)
        out = os.path.join(self.work, "out", "outputs")
        self.add("--output-dir", run + ["--output-dir", ""], {2}, note="''")
        self.add("--output-dir", run + ["--output-dir", out], {0}, self.file_exists(os.path.join(out, "probs.npy")), out)
        # Not directories: a file (left as it was), a path through a file, a FIFO.
        a_file = self.file(b"keep me\n", ".txt")
        self.add("--output-dir", run + ["--output-dir", a_file], {2}, self.unchanged(a_file), "a regular file")
        self.add("--output-dir", run + ["--output-dir", os.path.join(a_file, "sub")], {2}, self.unchanged(a_file),
                 "a path through a file")
        fifo = os.path.join(self.work, "out", "fifo_dir")
        os.mkfifo(fifo)
        self.add("--output-dir", run + ["--output-dir", fifo], {2}, self.kept_kind(fifo, stat.S_ISFIFO), "a FIFO")

    @staticmethod
    def file_exists(path):
        return lambda output: None if os.path.isfile(path) else "%s was not written" % path

    # Build options and output paths. These must never lose a file: each checks its inputs after.
    def build_cases(self):
        prof = ["--min", "image:1x3x64x64", "--opt", "image:2x3x64x64", "--max", "image:4x3x64x64"]
        out = os.path.join(self.work, "out")
        for target, expect in (("any", {0}), ("sm_90", {0}), ("sm_80", {0}), ("sm_0", {2}), ("sm_9999999999", {2}),
                               ("sm_", {2}), ("sm_x", {2}), ("", {2}), ("sm_-1", {2}), ("gpu", {2})):
            self.add("build --target", ["build", self.tinynet, "-o", self.out(), "--target", target] + prof,
                     expect, note=repr(target))
        # -o: the model itself (three spellings), a link to it, '', a directory, special files.
        # Each in a directory of its own, so one case that loses its model cannot break another.
        for k, spelling in enumerate(("m.onnx", "./m.onnx", "../own%d/m.onnx", "link.engine")):
            model_dir = os.path.join(self.work, "own%d" % k)
            os.makedirs(model_dir)
            own = os.path.join(model_dir, "m.onnx")
            shutil.copy(self.tinynet, own)
            os.symlink(own, os.path.join(model_dir, "link.engine"))
            o = os.path.join(model_dir, spelling.replace("%d", str(k)))
            self.add("build -o", ["build", own, "-o", o] + prof, {2}, self.unchanged(own), o)
        ext_model = os.path.join(self.work, "ext", "good.onnx")
        weights = os.path.join(self.work, "ext", "weights.bin")
        self.add("build -o", ["build", ext_model, "-o", weights], {2}, self.unchanged(weights), "the external data")
        # -o '' once wrote MODEL.engine next to the model: a model of its own, so nothing shared moves.
        lone = os.path.join(self.work, "lone")
        os.makedirs(lone)
        shutil.copy(self.tinynet, os.path.join(lone, "m.onnx"))
        self.add("build -o", ["build", os.path.join(lone, "m.onnx"), "-o", ""] + prof, {2},
                 self.unchanged(os.path.join(lone, "m.onnx")), "''")
        self.add("build -o", ["build", self.tinynet, "-o", out] + prof, {2}, note="a directory")
        self.add("build -o", ["build", self.tinynet, "-o", os.path.join(self.tinynet, "x.engine")] + prof, {2},
                 self.unchanged(self.tinynet), "a path through the model file")
        self.add("build -o", ["build", self.tinynet, "-o", "-"] + prof, {2}, note="'-' (standard output)")
        self.add("build -o", ["build", self.tinynet, "-o", os.path.join(out, "no", "such", "dir", "x.engine")] + prof, {2},
                 note="a missing directory")
        fifo = os.path.join(out, "fifo.engine")
        os.mkfifo(fifo)
        self.add("build -o", ["build", self.tinynet, "-o", fifo] + prof, {1, 2}, self.kept_kind(fifo, stat.S_ISFIFO), "a FIFO")
        null_link = os.path.join(out, "null_link.engine")
        os.symlink("/dev/null", null_link)
        self.add("build -o", ["build", self.tinynet, "-o", null_link] + prof, {0, 1, 2},
                 self.kept_link(null_link, "/dev/null"), "a link to /dev/null")
        # Models that are not models, or read what they must not.
        for model, expect, note in ((os.path.join(self.work, "model_dir.onnx"), {2}, "a directory"),
                                    (os.path.join(self.work, "self_loop.onnx"), {2}, "a self-loop"),
                                    (os.path.join(self.work, "ext", "escape_link.onnx"), {2}, "external data through a link out"),
                                    (os.path.join(self.work, "ext", "dir_data.onnx"), {2}, "external data that is a directory"),
                                    (os.path.join(self.work, "ext", "good.onnx"), {0}, "external data"),
                                    (os.path.join(self.work, "dynamic.onnx"), {0, 2}, "dynamic dims, no profile"),
                                    (os.path.join(self.work, "missing.onnx"), {2}, "missing")):
            self.add("build model", ["build", model, "-o", self.out()], expect, note=note)
            if "profile" not in note:
                self.add("run model", ["run", model, "--backend", "cpu"], expect, note=note)
        for flags in (["--fp16", "--bf16"], ["--fp32", "--fp16"], ["--bogus"],
                      ["--min", "image:2x3x64x64", "--max", "image:1x3x64x64"]):
            self.add("build flags", ["build", self.tinynet, "-o", self.out()] + flags, {2}, note=" ".join(flags))
        # A partial profile is completed by the documented default rule (docs/cli.md).
        self.add("build flags", ["build", self.tinynet, "-o", self.out(), "--min", "image:1x3x64x64"], {0},
                 note="--min alone")

    def unchanged(self, path):
        digest = sha256(path)
        return lambda output: None if os.path.isfile(path) and sha256(path) == digest else "%s changed or is gone" % path

    @staticmethod
    def kept_kind(path, is_kind):
        return lambda output: None if is_kind(os.lstat(path).st_mode) else "%s was replaced by another kind of file" % path

    @staticmethod
    def kept_link(path, target):
        def check(output):
            if not os.path.islink(path) and not stat.S_ISCHR(os.stat(path).st_mode):
                return "%s (a link to %s) was replaced by a regular file" % (path, target)
            return None if stat.S_ISCHR(os.stat(target).st_mode) else "%s is no longer a device" % target
        return check

    def usage(self):
        for args, expect in ((["frobnicate"], {2}), ([], {2}), (["RUN"], {2}), (["run"], {2}), (["--bogus"], {2}),
                             (["ops", "extra"], {2}), (["ops"], {0}), (["--version"], {0}), (["--help"], {0}),
                             (["run", self.tinynet, "--backend", "tpu"], {2}), (["run", self.tinynet, "--input", "image"], {2}),
                             (["run", self.tinynet, "--input", "image="], {2}), (["run", self.tinynet, "--input", "=x.npy"], {2}),
                             (["run", self.tinynet, "--input", "nosuch=x.npy"], {2}), (["inspect", self.tinynet], {2}),
                             (["inspect", os.path.join(self.work, "model_dir.onnx")], {2}), (["bench", "/nonexistent"], {2})):
            self.add("usage", args, expect, note=" ".join(args))


def parse_dims_reference(text):
    """The dims of a --shapes/--min text, or None when slimrt must refuse it."""
    if text == "":
        return []
    parts = text.split("x")
    if any(p == "" or not all(c in "0123456789" for c in p) for p in parts):
        return None
    dims = [int(p) for p in parts]
    if any(d > INT64_MAX for d in dims):
        return None
    n = 1
    for d in dims:
        n *= d
    return None if 0 not in dims and n > INT64_MAX else dims


def host_memory_bytes():
    info = {}
    with open("/proc/meminfo") as fh:
        for line in fh:
            k, v = line.split(":", 1)
            info[k] = int(v.split()[0]) * 1024
    return info["MemTotal"] + info.get("SwapTotal", 0)


def sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


# ---- running --------------------------------------------------------------------------------

def run_case(cli, case, timeout, cwd):
    t0 = time.monotonic()
    try:
        # In the temporary directory: a relative path a case makes (-o -) lands there too.
        p = subprocess.run([cli] + case.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return "hang", None, "", time.monotonic() - t0
    out = p.stdout.decode("utf-8", "replace")
    rc = p.returncode
    if rc < 0 or rc >= 128 or any(t in out for t in CRASH_TEXT):
        return "crash", rc, out, time.monotonic() - t0
    if rc not in case.expect:
        return "wrong exit code", rc, out, time.monotonic() - t0
    if case.check:
        msg = case.check(out)
        if msg:
            return "failed check", rc, msg + "\n" + out, time.monotonic() - t0
    return "ok", rc, out, time.monotonic() - t0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True, help="the slimrt executable")
    ap.add_argument("--source-dir", default=os.path.dirname(here), help="the slimrt checkout (for models/tinynet.onnx)")
    ap.add_argument("--seed", type=int, default=0, help="the generator's seed (default 0: the same cases every run)")
    ap.add_argument("--time-budget", type=float, default=100.0, help="seconds; cases not started by then are skipped")
    ap.add_argument("--case-timeout", type=float, default=30.0, help="seconds before a case counts as a hang")
    # A CUDA build spends most of a short run loading libraries, not computing: twice the cores.
    ap.add_argument("--jobs", type=int, default=min(8, 2 * (os.cpu_count() or 1)))
    ap.add_argument("--work-dir", default=None, help="where the temporary directory goes (default: the system's)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case")
    args = ap.parse_args()
    cli = os.path.abspath(args.cli)
    if args.work_dir:
        os.makedirs(args.work_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="slimrt_sweep_", dir=args.work_dir)
    start = time.monotonic()
    try:
        for sub in ("in", "out", "cwd"):
            os.makedirs(os.path.join(work, sub))
        write_models(work, args.source_dir)
        sweep = Sweep(cli, work, random.Random(args.seed))
        b = subprocess.run([cli, "build", sweep.tinynet, "-o", sweep.engine, "--min", "image:1x3x64x64", "--opt",
                            "image:2x3x64x64", "--max", "image:4x3x64x64"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if b.returncode != 0:
            print("robustness_sweep: cannot build the engine the cases use:\n" + b.stdout.decode(), file=sys.stderr)
            return 1
        sweep.npy_headers(160)
        sweep.npy_bodies()
        sweep.shape_strings(70)
        sweep.profile_strings(40)
        sweep.numeric_options()
        sweep.build_cases()
        sweep.usage()
        cases = sweep.cases
        counts = {"crash": 0, "hang": 0, "wrong exit code": 0, "failed check": 0, "ok": 0}
        ran = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {}
            for c in cases:
                futures[pool.submit(lambda c=c: None if time.monotonic() - start > args.time_budget
                                    else run_case(cli, c, args.case_timeout, os.path.join(work, "cwd")))] = c
            for fut, c in futures.items():
                r = fut.result()
                if r is None:
                    continue
                ran += 1
                kind, rc, out, secs = r
                counts[kind] += 1
                if kind != "ok" or args.verbose:
                    print("%-15s [%s] %s -> exit %s, expected %s (%.1f s)\n    slimrt %s\n    %s" % (
                        kind, c.cls, c.note, rc, sorted(c.expect), secs, " ".join(repr(a) if (not a or " " in a) else a
                                                                             for a in c.args),
                        "\n    ".join(out.strip().splitlines()[-3:])))
        skipped = len(cases) - ran
        print("%d cases: %d crashes, %d hangs, %d wrong exit codes, %d failed checks%s (%.0f s, seed %d)" % (
            ran, counts["crash"], counts["hang"], counts["wrong exit code"], counts["failed check"],
            "; %d not run (time budget)" % skipped if skipped else "", time.monotonic() - start, args.seed))
        bad = counts["crash"] + counts["hang"] + counts["wrong exit code"] + counts["failed check"]
        return 1 if bad else 0
    finally:
        if args.keep:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
