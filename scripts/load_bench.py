#!/usr/bin/env python3
"""Loads a LLaMA-7B-shaped engine onto the GPU and compares slimrt with the usual ways, in one run.

    load_bench.py --bundle build/gpu-bundle --work /tmp/llama --logs $OUT
    (scripts/gpu-load-bench.sh BUNDLE WORK LOGS wraps this for the GPU machine)

Steps (each timed; a failing step is recorded as FAIL with its error and the others still run):
  gen          scripts/make_llama_onnx.py writes WORK/llama.onnx + llama.weights and the
               safetensors twin WORK/llama.safetensors (skipped when WORK already has them for the
               same --model-args)
  build        BUNDLE/slimrt build llama.onnx -o llama.engine --json BUILD_ARGS, twice: with the
               model's files in the page cache (read in first; right after gen they are), then
               with them dropped from it. Wall time and peak RSS of each (the report's
               peak_rss_bytes when present, else VmHWM polled from /proc); both must stay <= 2 GiB
  raw          sequential read of the engine file (unbuffered readinto a 64 MiB buffer)
  slimrt       BUNDLE/slimrt-load llama.engine --json LOAD_ARGS
  naive        read the whole engine file into a bytes object, torch.frombuffer(...).to(device)
  safetensors  safetensors.torch.load_file(llama.safetensors, device=device)
  pipe         cat llama.engine | BUNDLE/slimrt-load - --reader pipe --json LOAD_ARGS
Each measurement runs in a fresh process. Cold runs follow `sync; echo 3 > /proc/sys/vm/drop_caches`
(one drop before each run; where /proc/sys/vm is read-only, posix_fadvise DONTNEED on the files); warm runs follow a read of the engine and safetensors files into the
page cache and are repeated --warm-reps times (methods interleaved), reporting the median.
Times are measured inside the process around the load itself (imports, CUDA init and process start
excluded; slimrt-load reports its own load_seconds). Host memory is the peak RSS growth: VmHWM after
the load minus VmRSS before it, the peak being reset (/proc/self/clear_refs = 5) just before the
load where the kernel allows it; torch is imported and CUDA initialized before the baseline.

Writes LOGS/load_bench.json and LOGS/load_bench.md after every step (so a run cut short still leaves
its figures), LOGS/steps/*.log with each child's output, and prints the table at the end.
"""

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time

KIB = 1024
MIB = 1024 * 1024
CHUNK = 64 * MIB

METHODS = [
    ("raw", "raw sequential read"),
    ("slimrt", "slimrt load"),
    ("naive", "naive read+copy"),
    ("safetensors", "safetensors load_file"),
    ("pipe", "slimrt load (pipe reader)"),
]
ALL_STEPS = ["gen", "build"] + [m for m, _ in METHODS]
DEFAULT_BUILD_ARGS = "--fp16 --min input_ids:1x1 --opt input_ids:1x128 --max input_ids:1x2048"


# ---------------------------------------------------------------------------------------------
# Children: each prints one JSON line on stdout.

def proc_status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def reset_peak():
    """Sets VmHWM to the current RSS (Linux >= 4.0). Returns whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def baseline():
    reset = reset_peak()
    st = proc_status()
    return {"rss_before_kib": st["VmRSS"], "vmhwm_before_kib": st["VmHWM"], "peak_reset": reset}


def finish(base, seconds, nbytes, **extra):
    st = proc_status()
    out = dict(base)
    out.update(seconds=seconds, bytes=nbytes, vmhwm_after_kib=st["VmHWM"],
               rss_after_kib=st["VmRSS"],
               rss_growth_kib=max(0, st["VmHWM"] - base["rss_before_kib"]), **extra)
    print(json.dumps(out), flush=True)


def child_raw(path, _device):
    base = baseline()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    t0 = time.monotonic()
    total = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(view)
            if not n:
                break
            total += n
    finish(base, time.monotonic() - t0, total)


def torch_init(device):
    import torch
    torch.zeros(1, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return torch


def child_naive(path, device):
    import warnings
    warnings.filterwarnings("ignore")  # frombuffer on immutable bytes
    torch = torch_init(device)
    base = baseline()
    t0 = time.monotonic()
    with open(path, "rb") as f:
        data = f.read()
    t = torch.frombuffer(data, dtype=torch.uint8).to(device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    finish(base, time.monotonic() - t0, t.numel())


def child_safetensors(path, device):
    torch = torch_init(device)
    from safetensors.torch import load_file
    base = baseline()
    t0 = time.monotonic()
    sd = load_file(path, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.monotonic() - t0
    finish(base, seconds, sum(t.numel() * t.element_size() for t in sd.values()), tensors=len(sd))


CHILDREN = {"raw": child_raw, "naive": child_naive, "safetensors": child_safetensors}


# ---------------------------------------------------------------------------------------------
# Parent.

class Bench:
    def __init__(self, a):
        self.a = a
        self.t_start = time.monotonic()
        self.bundle = os.path.abspath(a.bundle)
        self.work = os.path.abspath(a.work)
        self.logs = os.path.abspath(a.logs)
        self.onnx = os.path.join(self.work, "llama.onnx")
        self.weights = os.path.join(self.work, "llama.weights")
        self.st = os.path.join(self.work, "llama.safetensors")
        self.engine = os.path.join(self.work, "llama.engine")
        self.marker = os.path.join(self.work, "llama.done")
        os.makedirs(os.path.join(self.logs, "steps"), exist_ok=True)
        os.makedirs(self.work, exist_ok=True)
        self.env = dict(os.environ)
        lib = os.path.join(self.bundle, "lib")
        self.env["LD_LIBRARY_PATH"] = lib + (":" + self.env["LD_LIBRARY_PATH"]
                                             if self.env.get("LD_LIBRARY_PATH") else "")
        self.env["PYTHONUNBUFFERED"] = "1"
        self.r = {
            "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "options": vars(a),
            "host": {"node": platform.node(), "kernel": platform.release(),
                     "cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "steps": {},
            "methods": {m: {"label": label, "cold": [], "warm": []} for m, label in METHODS},
            "notes": [],
        }
        self.log_n = 0

    # -- helpers --------------------------------------------------------------------------------
    def say(self, msg):
        print(f"[{time.monotonic() - self.t_start:7.1f}s] {msg}", flush=True)

    def elapsed(self):
        return time.monotonic() - self.t_start

    def over_budget(self):
        return self.elapsed() > self.a.budget_s

    def timeout(self, own):
        """A child's timeout: its own, cut so that the run ends by --deadline-s."""
        return max(5.0, min(own, self.a.deadline_s - self.elapsed()))

    def step_log(self, name):
        self.log_n += 1
        return os.path.join(self.logs, "steps", f"{self.log_n:02d}_{name}.log")

    def run(self, name, cmd, timeout, stdin_cmd=None, poll_rss=False):
        """Runs cmd (list); returns dict(rc, wall_s, stdout, stderr, vmhwm_kib, error)."""
        path = self.step_log(name)
        res = {"cmd": " ".join(shlex.quote(c) for c in cmd), "log": os.path.relpath(path, self.logs)}
        if stdin_cmd:
            res["cmd"] = " ".join(shlex.quote(c) for c in stdin_cmd) + " | " + res["cmd"]
        t0 = time.monotonic()
        feeder = None
        try:
            if stdin_cmd:
                feeder = subprocess.Popen(stdin_cmd, stdout=subprocess.PIPE, env=self.env)
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                                 stdin=feeder.stdout if feeder else subprocess.DEVNULL, text=True)
            if feeder:
                feeder.stdout.close()
            hwm = 0
            if poll_rss:
                while p.poll() is None and time.monotonic() - t0 < timeout:
                    hwm = max(hwm, read_vmhwm(p.pid))
                    time.sleep(0.05)
            out, err = p.communicate(timeout=max(1.0, timeout - (time.monotonic() - t0)))
            res["rc"] = p.returncode
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            res["rc"] = None
            res["error"] = f"timed out after {timeout} s"
        except OSError as e:
            out, err = "", ""
            res["rc"] = None
            res["error"] = f"{type(e).__name__}: {e}"
        finally:
            if feeder:
                try:
                    feeder.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    feeder.kill()
        res["wall_s"] = time.monotonic() - t0
        if poll_rss:
            res["polled_vmhwm_kib"] = hwm
        res["stdout"], res["stderr"] = out, err
        with open(path, "w") as f:
            f.write(f"$ {res['cmd']}\nrc={res['rc']} wall={res['wall_s']:.2f}s\n"
                    f"--- stdout\n{out}\n--- stderr\n{err}\n")
        if "error" not in res and res["rc"] != 0:
            tail = (err or out).strip().splitlines()[-3:]
            res["error"] = f"exit {res['rc']}: " + " | ".join(tail)
        return res

    def write_reports(self):
        self.r["elapsed_s"] = self.elapsed()
        self.r["summary"] = summarize(self.r)
        with open(os.path.join(self.logs, "load_bench.json"), "w") as f:
            json.dump(self.r, f, indent=2, default=str)
        with open(os.path.join(self.logs, "load_bench.md"), "w") as f:
            f.write(markdown(self.r))

    # -- steps ----------------------------------------------------------------------------------
    def step_gen(self):
        need_st = "safetensors" in self.a.steps
        want = {"model_args": self.a.model_args}
        have = None
        if os.path.exists(self.marker):
            try:
                with open(self.marker) as f:
                    have = json.load(f)
            except (OSError, ValueError):
                have = None
        if have == want and all(os.path.exists(p) for p in
                                (self.onnx, self.weights) + ((self.st,) if need_st else ())):
            self.r["steps"]["gen"] = {"status": "SKIPPED", "why": "WORK already has the model"}
            self.say("gen: model already present, skipped")
            return
        free = shutil.disk_usage(self.work).free
        self.say(f"gen: writing the model ({free / 1e9:.1f} GB free in {self.work})")
        if os.path.exists(self.marker):
            os.remove(self.marker)
        self.remove_engine()
        cmd = [self.a.python, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "make_llama_onnx.py"),
               "--out-dir", self.work] + (["--safetensors", self.st] if need_st else []) + \
            shlex.split(self.a.model_args)
        res = self.run("gen", cmd, self.timeout(self.a.step_timeout_s))
        step = {"status": "OK" if res["rc"] == 0 else "FAIL", "seconds": res["wall_s"],
                "cmd": res["cmd"], "log": res["log"]}
        if res["rc"] == 0:
            step["weights_bytes"] = os.path.getsize(self.weights)
            if need_st:
                step["safetensors_bytes"] = os.path.getsize(self.st)
            with open(self.marker, "w") as f:
                json.dump(want, f)
        else:
            step["error"] = res.get("error")
        self.r["steps"]["gen"] = step
        self.say(f"gen: {step['status']} in {res['wall_s']:.1f} s")

    def step_build(self):
        """Builds with the model's files cached, then uncached (the engine of the last build
        stays for the loads). The build's memory must not depend on the page cache."""
        for cache in self.a.build_cache:
            if self.over_budget():
                self.r["steps"]["build_" + cache] = {"status": "SKIPPED", "why": "time budget spent"}
                continue
            if cache == "cached":
                seconds = sum(self.warm_file(p) for p in (self.onnx, self.weights))
                how = f"model read into the page cache first ({seconds:.1f} s)"
            else:
                ok, how = self.drop_caches()
                if not ok:
                    self.r["steps"]["build_" + cache] = {"status": "SKIPPED", "why": how}
                    self.say(f"build ({cache}): {how}")
                    continue
            cached = page_cache_fraction(self.weights)
            self.build_once(cache, how, cached)
            self.write_reports()

    def build_once(self, cache, how, cached):
        name = "build_" + cache
        args = shlex.split(self.a.build_args)
        cmd = [os.path.join(self.bundle, "slimrt"), "build", self.onnx, "-o", self.engine,
               "--json"] + args
        self.say(f"build ({cache}; {how}; weights file "
                 f"{'?' if cached is None else f'{cached * 100:.0f}%'} in the page cache): "
                 + " ".join(cmd[1:]))
        self.remove_engine()  # a failed build must not leave an older engine to be measured
        res = self.run(name, cmd, self.timeout(self.a.step_timeout_s), poll_rss=True)
        step = {"cmd": res["cmd"], "log": res["log"], "cache": how, "weights_cached_fraction": cached}
        if (res["rc"] == 2 and "--fp16" in args and "precision pass" in res["stderr"]):
            note = "slimrt build refused --fp16 (no precision pass yet); built without it"
            self.r["notes"].append(note)
            self.say("build: " + note)
            cmd = [c for c in cmd if c != "--fp16"]
            res = self.run(name + "_retry", cmd, self.timeout(self.a.step_timeout_s), poll_rss=True)
            step.update(cmd=res["cmd"], log=res["log"], note=note)
        if res["rc"] != 0:
            self.remove_engine()
        step["seconds"] = res["wall_s"]
        step["polled_vmhwm_kib"] = res.get("polled_vmhwm_kib")
        if res["rc"] == 0:
            step["status"] = "OK"
            rep = parse_json_output(res["stdout"])
            if rep is None:
                rep = {}
                step["note_json"] = "build --json output did not parse"
            for k in ("peak_rss_bytes", "rss_before_bytes", "engine_bytes", "precision",
                      "timing_ms"):
                if k in rep:
                    step[k] = rep[k]
            if "weights" in rep:
                step["weights"] = rep["weights"]
            peak = step.get("peak_rss_bytes")
            step["peak_rss_mib"] = (peak / MIB if peak is not None
                                    else (step["polled_vmhwm_kib"] or 0) / KIB)
            step["peak_rss_source"] = ("report peak_rss_bytes" if peak is not None
                                       else "VmHWM polled every 50 ms")
            step["engine_file_bytes"] = os.path.getsize(self.engine)
        else:
            step["status"] = "FAIL"
            step["error"] = res.get("error")
        self.r["steps"][name] = step
        self.say(f"build ({cache}): {step['status']} in {res['wall_s']:.1f} s"
                 + (f", peak RSS {step['peak_rss_mib']:.0f} MiB" if "peak_rss_mib" in step else ""))

    def remove_engine(self):
        for p in (self.engine, self.engine + ".partial"):
            if os.path.exists(p):
                os.remove(p)

    def drop_caches(self):
        if self.a.no_drop_caches:
            return True, "caches NOT dropped (--no-drop-caches)"
        t0 = time.monotonic()
        os.sync()
        t1 = time.monotonic()
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
            return True, f"sync {t1 - t0:.1f} s, drop {time.monotonic() - t1:.1f} s"
        except OSError as e:
            why = str(e)
        # No /proc/sys/vm here (a container): drop this benchmark's files one by one.
        files = [p for p in (self.engine, self.weights, self.onnx, self.st) if os.path.exists(p)]
        try:
            for p in files:
                fd = os.open(p, os.O_RDONLY)
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)
        except OSError as e2:
            return False, f"cannot drop caches: {why}; fadvise: {e2}"
        left = [page_cache_fraction(p) for p in files]
        if any(x is not None and x > 0.1 for x in left):
            return False, f"cannot drop caches: {why}; fadvise left {max(x or 0 for x in left):.0%} cached"
        return True, f"sync {t1 - t0:.1f} s, posix_fadvise DONTNEED on {len(files)} files"

    def warm_file(self, path):
        t0 = time.monotonic()
        buf = bytearray(CHUNK)
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass
        return time.monotonic() - t0

    def measure(self, method, phase):
        """One run of `method`; returns a dict with ok/seconds/bytes/rss_growth_kib/error."""
        py_child = [self.a.python, os.path.abspath(__file__), "--child"]
        loader = os.path.join(self.bundle, "slimrt-load")
        load_args = shlex.split(self.a.load_args)
        stdin_cmd = None
        if method == "raw":
            cmd = py_child + ["raw", self.engine]
        elif method == "naive":
            cmd = py_child + ["naive", self.engine, "--device", self.a.torch_device]
        elif method == "safetensors":
            cmd = py_child + ["safetensors", self.st, "--device", self.a.torch_device]
        elif method == "slimrt":
            cmd = [loader, self.engine, "--json"] + load_args
        else:  # pipe
            cmd = [loader, "-", "--reader", "pipe", "--json"] + load_args
            stdin_cmd = ["cat", self.engine]
        res = self.run(f"{method}_{phase}", cmd, self.timeout(self.a.load_timeout_s),
                       stdin_cmd=stdin_cmd)
        run = {"ok": False, "wall_s": res["wall_s"], "log": res["log"]}
        if res["rc"] != 0:
            run["error"] = res.get("error")
            return run
        js = parse_json_output(res["stdout"])
        if js is None:
            run["error"] = "no JSON object on stdout"
            return run
        if method in ("slimrt", "pipe"):
            run.update(seconds=js.get("load_seconds"), bytes=js.get("file_bytes"),
                       rss_growth_kib=js.get("rss_growth_kib"),
                       device_check=js.get("device_check"),
                       checksums_verified=js.get("checksums_verified"), report=js)
            if js.get("device_check") == "mismatch":
                run["error"] = "device check: mismatch"
                run["seconds_if_ok"] = run.pop("seconds")
                return run
        else:
            run.update(seconds=js["seconds"], bytes=js["bytes"],
                       rss_growth_kib=js["rss_growth_kib"], report=js)
        run["ok"] = run.get("seconds") is not None
        if not run["ok"]:
            run["error"] = "no load_seconds in the JSON"
        return run

    def record(self, method, phase, run):
        self.r["methods"][method][phase].append(run)
        if run["ok"]:
            gbps = run["bytes"] / run["seconds"] / 1e9 if run.get("bytes") else 0.0
            self.say(f"{phase:4s} {method:12s} {run['seconds']:8.3f} s  {gbps:6.2f} GB/s  "
                     f"RSS +{(run.get('rss_growth_kib') or 0) / KIB:.0f} MiB")
        else:
            self.say(f"{phase:4s} {method:12s} FAIL: {run.get('error')}")
        self.write_reports()

    def skip(self, method, phase, why):
        self.r["methods"][method][phase].append({"ok": False, "skipped": True, "error": why})

    def loads(self, methods):
        need_engine = [m for m in methods if m != "safetensors"]
        if need_engine and not os.path.exists(self.engine):
            for m in need_engine:
                self.skip(m, "cold", "no engine file")
                self.skip(m, "warm", "no engine file")
            methods = [m for m in methods if m == "safetensors"]
        if "safetensors" in methods and not os.path.exists(self.st):
            self.skip("safetensors", "cold", "no safetensors file")
            self.skip("safetensors", "warm", "no safetensors file")
            methods = [m for m in methods if m != "safetensors"]
        # The disk's speed drifts 15-25% between runs on the GPU machine's virtio disk, so the cold
        # check pairs each slimrt load with the raw read of the SAME rep, run right before it.
        cold_order = [m for m in ("raw", "slimrt") if m in methods] + \
            [m for m in methods if m not in ("raw", "slimrt")]
        for rep in range(self.a.cold_reps):
            for m in cold_order:
                if self.over_budget():
                    self.skip(m, "cold", "time budget spent")
                    continue
                ok, how = self.drop_caches()
                if not ok:
                    self.skip(m, "cold", how)
                    self.say(f"cold {m}: {how}")
                    continue
                run = self.measure(m, "cold")
                run["caches"] = how
                run["rep"] = rep
                self.record(m, "cold", run)
        if methods and self.a.warm_reps > 0 and not self.over_budget():
            for path in {self.engine if m != "safetensors" else self.st for m in methods}:
                self.say(f"warm-up read of {os.path.basename(path)}: {self.warm_file(path):.1f} s")
        for rep in range(self.a.warm_reps):
            for m in methods:
                if self.over_budget():
                    self.skip(m, "warm", "time budget spent")
                    continue
                self.record(m, "warm", self.measure(m, "warm"))

    def main(self):
        steps = self.a.steps
        self.say(f"load_bench: steps {','.join(steps)}; work {self.work}; logs {self.logs}")
        for name, fn in (("gen", self.step_gen), ("build", self.step_build)):
            if name in steps:
                try:
                    fn()
                except Exception as e:  # noqa: BLE001 - record and go on
                    self.r["steps"][name + "_error"] = {"status": "FAIL",
                                                        "error": f"{type(e).__name__}: {e}"}
                    self.say(f"{name}: FAIL {e}")
                self.write_reports()
        for p in (self.engine, self.st, self.weights):
            if os.path.exists(p):
                self.r.setdefault("files", {})[os.path.basename(p)] = os.path.getsize(p)
        try:
            self.loads([m for m, _ in METHODS if m in steps])
        except Exception as e:  # noqa: BLE001
            self.r["notes"].append(f"load phase aborted: {type(e).__name__}: {e}")
            self.say(f"load phase aborted: {e}")
        self.write_reports()
        print()
        print(markdown(self.r), flush=True)
        return 0


def parse_json_output(text):
    """The JSON object a child printed: the whole stdout, or its last object (one line or
    pretty-printed) after other lines."""
    try:
        v = json.loads(text)
        return v if isinstance(v, dict) else None
    except ValueError:
        pass
    lines = text.rstrip().splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].lstrip().startswith("{"):
            try:
                v = json.loads("\n".join(lines[i:]))
                return v if isinstance(v, dict) else None
            except ValueError:
                continue
    return None


def page_cache_fraction(path):
    """The fraction of `path`'s pages in the page cache (mincore over a mapping, through
    ctypes), or None when it cannot be told."""
    import ctypes
    import mmap
    try:
        size = os.path.getsize(path)
        if size == 0:
            return None
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int, ctypes.c_long]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        fd = os.open(path, os.O_RDONLY)
        try:
            addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        finally:
            os.close(fd)
        if addr in (None, ctypes.c_void_p(-1).value):
            return None
        try:
            page = os.sysconf("SC_PAGE_SIZE")
            step = 1 << 30  # 1 GiB of pages per call
            resident = total = 0
            for off in range(0, size, step):
                n = min(step, size - off)
                vec = (ctypes.c_ubyte * ((n + page - 1) // page))()
                if libc.mincore(ctypes.c_void_p(addr + off), n, vec) != 0:
                    return None
                resident += sum(b & 1 for b in bytes(vec))
                total += len(vec)
            return resident / total
        finally:
            libc.munmap(ctypes.c_void_p(addr), size)
    except (OSError, AttributeError):
        return None


def read_vmhwm(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------------------------------------
# Summary and tables.

def phase_stats(runs):
    ok = [r for r in runs if r.get("ok")]
    if not ok:
        errs = [r.get("error") for r in runs if r.get("error")]
        return {"status": "FAIL" if any(not r.get("skipped") for r in runs) else
                ("SKIPPED" if runs else "not run"), "error": errs[0] if errs else None}
    secs = [r["seconds"] for r in ok]
    med = statistics.median(secs)
    nbytes = ok[0].get("bytes") or 0
    rss = [r["rss_growth_kib"] for r in ok if r.get("rss_growth_kib") is not None]
    return {"status": "OK" if len(ok) == len(runs) else "PARTIAL", "runs": len(ok),
            "seconds": med, "min_s": min(secs), "max_s": max(secs),
            "gbps": nbytes / med / 1e9 if med > 0 else None,
            "rss_growth_mib_max": max(rss) / KIB if rss else None}


def summarize(r):
    s = {}
    for m in r["methods"]:
        s[m] = {ph: phase_stats(r["methods"][m][ph]) for ph in ("cold", "warm")}

    def sec(m, ph):
        return s[m][ph].get("seconds")

    checks = []

    def check(name, value, limit, goal=None, unit=""):
        if value is None:
            checks.append({"check": name, "value": None, "limit": limit, "goal": goal,
                           "result": "n/a"})
            return
        res = "PASS" if value <= limit else "FAIL"
        if goal is not None and res == "PASS":
            res = "PASS (goal met)" if value <= goal else "PASS (goal missed)"
        checks.append({"check": name, "value": value, "limit": limit, "goal": goal,
                       "unit": unit, "result": res})

    def ratio(a, b):
        return a / b if a is not None and b else None

    # Cold: the median over reps of slimrt / raw read of the same rep (adjacent in time).
    raw_by_rep = {x.get("rep"): x["seconds"] for x in r["methods"]["raw"]["cold"] if x.get("ok")}
    pairs = [x["seconds"] / raw_by_rep[x.get("rep")] for x in r["methods"]["slimrt"]["cold"]
             if x.get("ok") and x.get("rep") in raw_by_rep and raw_by_rep[x.get("rep")] > 0]
    if pairs:
        check(f"slimrt cold / raw read cold (median of {len(pairs)} same-rep pairs: "
              f"{', '.join(f'{p:.3f}' for p in pairs)})", statistics.median(pairs), 1.05)
    else:
        check("slimrt cold / raw read cold", ratio(sec("slimrt", "cold"), sec("raw", "cold")), 1.05)
    check("slimrt warm / safetensors warm", ratio(sec("slimrt", "warm"), sec("safetensors", "warm")),
          0.6, 0.5)
    rss = [s["slimrt"][ph].get("rss_growth_mib_max") for ph in ("cold", "warm")]
    rss = [x for x in rss if x is not None]
    check("slimrt RSS growth (MiB, max)", max(rss) if rss else None, 256, 128, "MiB")
    prss = [s["pipe"][ph].get("rss_growth_mib_max") for ph in ("cold", "warm")]
    prss = [x for x in prss if x is not None]
    check("slimrt pipe-reader RSS growth (MiB, max)", max(prss) if prss else None, 256, 128, "MiB")
    for cache in ("cached", "uncached"):
        b = r["steps"].get("build_" + cache)
        if b is not None:
            check(f"build peak RSS, model {cache} (MiB)", b.get("peak_rss_mib"), 2048, None, "MiB")
    reads = [run.get("report", {}) for run in r["methods"]["slimrt"]["cold"] if run.get("ok")]
    if reads:
        checks.append({"check": "slimrt cold: staging slots streamed / read in parallel", "value": ", ".join(
            f"{x.get('slots_streamed')}/{x.get('slots_parallel')}" for x in reads), "result": "info"})
    dc = [run.get("device_check") for m in ("slimrt", "pipe") for ph in ("cold", "warm")
          for run in r["methods"][m][ph] if "device_check" in run]
    if dc:
        verdict = ("PASS" if all(d == "ok" for d in dc) else
                   "FAIL" if any(d == "mismatch" for d in dc) else "n/a")
    else:
        verdict = "n/a"
    checks.append({"check": "device check (loaded bytes == file)", "value": ",".join(sorted(set(
        str(d) for d in dc))) or None, "result": verdict})
    return {"methods": s, "checks": checks}


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def markdown(r):
    s = r.get("summary") or summarize(r)
    lines = ["# LLaMA-7B-shaped engine: load benchmark", ""]
    files = r.get("files", {})
    if files:
        lines.append("Files: " + ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in files.items()))
        lines.append("")
    lines += ["| step | status | seconds | notes |", "|---|---|---|---|"]
    for name, st in r["steps"].items():
        note = st.get("error") or st.get("why") or ""
        if name.startswith("build") and st.get("peak_rss_mib") is not None:
            frac = st.get("weights_cached_fraction")
            note = (f"peak RSS {st['peak_rss_mib']:.0f} MiB ({st['peak_rss_source']}); "
                    f"{st.get('cache')}; weights file "
                    f"{'?' if frac is None else f'{frac * 100:.0f}%'} cached at the start") + (
                "; " + st["note"] if st.get("note") else "")
        lines.append(f"| {name} | {st.get('status')} | {fmt(st.get('seconds'), '.1f')} | {note} |")
    lines += ["", "| method | cold s | warm s (median) | GB/s warm | RSS growth MiB (max) |",
              "|---|---|---|---|---|"]
    for m, ph in s["methods"].items():
        label = r["methods"][m]["label"]
        c, w = ph["cold"], ph["warm"]

        def cell(p, key, spec):
            if p["status"] in ("OK", "PARTIAL"):
                return fmt(p.get(key), spec)
            return p["status"]

        rss = [p.get("rss_growth_mib_max") for p in (c, w) if p.get("rss_growth_mib_max") is not None]
        lines.append(f"| {label} | {cell(c, 'seconds', '.2f')} | {cell(w, 'seconds', '.2f')} | "
                     f"{cell(w, 'gbps', '.2f')} | {fmt(max(rss) if rss else None, '.0f')} |")
    lines += ["", "| check | value | limit | goal | result |", "|---|---|---|---|---|"]
    for c in s["checks"]:
        v = c["value"]
        v = fmt(v, ".3f") if isinstance(v, float) else ("-" if v is None else str(v))
        lines.append(f"| {c['check']} | {v} | {fmt(c.get('limit'), 'g')} | "
                     f"{fmt(c.get('goal'), 'g')} | {c['result']} |")
    fails = []
    for m, ph in s["methods"].items():
        for p in ("cold", "warm"):
            if ph[p]["status"] in ("FAIL", "PARTIAL", "SKIPPED") and ph[p].get("error"):
                fails.append(f"- {m} {p} ({ph[p]['status']}): {ph[p]['error']}")
    for name, st in r["steps"].items():
        if st.get("status") == "FAIL":
            fails.append(f"- {name}: {st.get('error')}")
    if fails:
        lines += ["", "Failures and skips:"] + fails
    if r.get("notes"):
        lines += ["", "Notes:"] + [f"- {n}" for n in r["notes"]]
    lines += ["", f"Total {r.get('elapsed_s', 0):.0f} s; logs in steps/.", ""]
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bundle", required=True, help="dir with slimrt, slimrt-load and lib/")
    p.add_argument("--work", required=True, help="dir for the model, safetensors and engine")
    p.add_argument("--logs", required=True, help="dir for load_bench.json/.md and step logs")
    p.add_argument("--steps", default=",".join(ALL_STEPS),
                   help=f"comma list out of {','.join(ALL_STEPS)} (default: all)")
    p.add_argument("--cold-reps", type=int, default=1)
    p.add_argument("--warm-reps", type=int, default=3)
    p.add_argument("--no-drop-caches", action="store_true",
                   help="run the 'cold' measurements without dropping the page cache (dev only)")
    p.add_argument("--model-args", default="", help="passed to make_llama_onnx.py")
    p.add_argument("--build-args", default=DEFAULT_BUILD_ARGS, help="passed to slimrt build")
    p.add_argument("--build-cache", default="cached,uncached",
                   help="the builds to run: cached (model files read into the page cache first), "
                        "uncached (caches dropped first), or both (default), in that order")
    p.add_argument("--load-args", default="", help="passed to slimrt-load (e.g. '--threads 8')")
    p.add_argument("--torch-device", default="cuda")
    p.add_argument("--python", default=sys.executable, help="python for the children")
    p.add_argument("--budget-s", type=float, default=510,
                   help="start no new measurement after this many seconds")
    p.add_argument("--deadline-s", type=float, default=570,
                   help="children still running this many seconds after the start are killed")
    p.add_argument("--step-timeout-s", type=float, default=300, help="gen and build")
    p.add_argument("--load-timeout-s", type=float, default=120, help="each load measurement")
    a = p.parse_args(argv)
    a.steps = [x for x in a.steps.split(",") if x]
    a.build_cache = [x for x in a.build_cache.split(",") if x]
    if any(x not in ("cached", "uncached") for x in a.build_cache):
        p.error(f"--build-cache takes cached, uncached or both, not {a.build_cache}")
    bad = [x for x in a.steps if x not in ALL_STEPS]
    if bad:
        p.error(f"unknown steps {bad}; known: {ALL_STEPS}")
    return a


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        c = argparse.ArgumentParser()
        c.add_argument("kind", choices=sorted(CHILDREN))
        c.add_argument("path")
        c.add_argument("--device", default="cuda")
        ca = c.parse_args(sys.argv[2:])
        CHILDREN[ca.kind](ca.path, ca.device)
        return 0
    return Bench(parse_args()).main()


if __name__ == "__main__":
    sys.exit(main())
