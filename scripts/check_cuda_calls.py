#!/usr/bin/env python3
"""Fails on any CUDA runtime, cuBLAS(Lt) or cuDNN call in src/ or tools/ whose result is not
checked through src/cuda/check.h (SLIMRT_CUDA, SLIMRT_CUDA_RETURN_IF_ERROR, SLIMRT_CUDA_ALLOC,
SLIMRT_CUDA_RETURN_IF_ERROR_ALLOC, SLIMRT_CUDA_IGNORE for cleanup, or SLIMRT_CUDA_DEFERRED for
asynchronous work whose error the launch sequence's closing check reports).

A call is a name starting with cuda, cublas or cudnn and a capital letter, followed by "(",
outside comments and string literals; it passes when it stands inside the parentheses of one of
those macros. Functions that return no status (error-name lookups, device-side intrinsics) are
listed in NO_STATUS. src/cuda/check.cpp, which implements the mapping, is exempt.

    /usr/bin/python3 scripts/check_cuda_calls.py [ROOT]     # default: the repository
    /usr/bin/python3 scripts/check_cuda_calls.py --self-test
Exit 0: every call is checked; 1: unchecked calls (listed as file:line: call); 2: usage.
"""
import os
import re
import sys

MACROS = {
    "SLIMRT_CUDA",
    "SLIMRT_CUDA_RETURN_IF_ERROR",
    "SLIMRT_CUDA_ALLOC",
    "SLIMRT_CUDA_RETURN_IF_ERROR_ALLOC",
    "SLIMRT_CUDA_IGNORE",
    "SLIMRT_CUDA_DEFERRED",
}
NO_STATUS = {
    "cudaGetErrorName",
    "cudaGetErrorString",
    "cudnnGetErrorString",
    "cudnnGetVersion",
    "cublasLtGetStatusName",
    "cublasLtGetStatusString",
    "cublasLtGetVersion",
    # device-side
    "cudaGridDependencySynchronize",
    "cudaTriggerProgrammaticLaunchCompletion",
}
EXEMPT = {os.path.join("src", "cuda", "check.cpp")}
EXTENSIONS = (".cpp", ".cc", ".cu", ".cuh", ".h", ".hpp")
CALL = re.compile(r"\b((?:cuda|cublas|cudnn)[A-Z]\w*)\s*\(")
IDENT_BEFORE_PAREN = re.compile(r"(\w+)\s*$")


def strip_comments_and_strings(text):
    """The text with comments and string/char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c == '"' or c == "'":
            # A raw string R"(...)" is treated as a plain one; the sources have none with quotes.
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else " " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def unchecked_calls(text):
    """[(line, name)] of calls not inside a checking macro."""
    code = strip_comments_and_strings(text)
    calls = {m.start(1): m.group(1) for m in CALL.finditer(code)}
    found = []
    stack = []  # for each open "(", whether it belongs to a checking macro
    line = 1
    for i, c in enumerate(code):
        if c == "\n":
            line += 1
        elif c == "(":
            m = IDENT_BEFORE_PAREN.search(code[max(0, i - 64):i])
            stack.append(bool(m) and m.group(1) in MACROS)
        elif c == ")":
            if stack:
                stack.pop()
        elif i in calls:
            name = calls[i]
            # Types (cudnnStatus_t (*Create)(...)) are not calls.
            if name not in NO_STATUS and not name.endswith("_t") and not any(stack):
                found.append((line, name))
    return found


def check_tree(root):
    problems = []
    for top in ("src", "tools"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if not f.endswith(EXTENSIONS):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, root)
                if rel in EXEMPT:
                    continue
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for line, name in unchecked_calls(fh.read()):
                        problems.append(f"{rel}:{line}: unchecked call {name}(...)")
    return problems


def self_test():
    cases = [
        ("cudaFree(p);", [(1, "cudaFree")]),
        ("SLIMRT_CUDA_IGNORE(cudaFree(p));", []),
        ("SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpy(a, b, n, cudaMemcpyHostToDevice), \"x\");", []),
        ("Status s = SLIMRT_CUDA(\n  cudaGraphLaunch(e, s));", []),
        ("SLIMRT_RETURN_IF_ERROR(cuda_status(cudaStreamSynchronize(s), \"x\"));", [(1, "cudaStreamSynchronize")]),
        ("if (cudaEventRecord(e, s) != cudaSuccess) {}", [(1, "cudaEventRecord")]),
        ("// cudaFree(p);\n/* cudnnCreate(&h); */ x = \"cudaMalloc(&p, 4)\";", []),
        ("msg = cudaGetErrorString(e);", []),
        ("\n\nauto st = cublasLtMatmul(h, d, a);", [(3, "cublasLtMatmul")]),
        ("SLIMRT_CUDA_ALLOC(cudaMalloc(&p, n), n, \"arena\"); cudnnSetStream(h, s);", [(1, "cudnnSetStream")]),
        ("cudaStream_t s; cudaError_t e = x; static_cast<cudaError_t>(y);", []),
        ("template <typename D, cudnnStatus_t (*Create)(D*)> class C;", []),
    ]
    failed = 0
    for code, want in cases:
        got = unchecked_calls(code)
        if got != want:
            failed += 1
            print(f"self-test FAILED on {code!r}: got {got}, want {want}")
    print(f"self-test: {len(cases) - failed}/{len(cases)} cases pass")
    return 1 if failed else 0


def main(argv):
    if len(argv) > 2:
        print(__doc__)
        return 2
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    root = argv[1] if len(argv) == 2 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isdir(os.path.join(root, "src")):
        print(f"{root}: no src/ folder")
        return 2
    problems = check_tree(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} unchecked CUDA/cuBLASLt/cuDNN call(s): wrap each in SLIMRT_CUDA_RETURN_IF_ERROR, "
              "SLIMRT_CUDA or (cleanup) SLIMRT_CUDA_IGNORE from src/cuda/check.h")
        return 1
    print("every CUDA, cuBLASLt and cuDNN call in src/ and tools/ is checked")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
