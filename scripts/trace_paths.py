"""Walk the genoattn files `fit` and `export` pass through (dynamic call trace).

usage: python scripts/trace_paths.py SRC_ROOT OUT_DIR   (SRC_ROOT: a checkout, e.g. ".")
Records every call into a genoattn/ file; per command: distinct files in first-visit order,
file-to-file call edges, and back-edges (a call into a file that is already lower on the stack,
i.e. the path returns to a file it came through). A call of a function that was handed down (a
lambda or a closure defined inside another function, e.g. a log callback or a block scorer given
to a blocked top-k) is counted apart: the callee runs code its caller supplied, the import graph
still goes one way.
"""

import collections
import os
import sys

root = os.path.abspath(sys.argv[1])
out = sys.argv[2]
sys.path.insert(0, root)
os.chdir(root)
from genoattn.cli.app import run  # noqa: E402  (imported from SRC_ROOT)

pkg = os.path.join(root, "genoattn") + os.sep


def trace(argv):
    stack = []  # files of genoattn frames on the stack
    files, edges, back = [], collections.Counter(), collections.Counter()

    def prof(frame, event, arg):
        fn = frame.f_code.co_filename
        if not fn.startswith(pkg):
            return
        rel = fn[len(root) + 1 :]
        if frame.f_code.co_name == "<module>":  # import-time code is not the command's path
            return
        if event == "call":
            if rel not in files:
                files.append(rel)
            if stack and stack[-1] != rel:
                edges[(stack[-1], rel)] += 1
                if rel in stack:
                    code = frame.f_code
                    handed = "<locals>" in code.co_qualname or code.co_name == "<lambda>"
                    back[(stack[-1], rel, "<callback>" if handed else code.co_name)] += 1
            stack.append(rel)
        elif event == "return":
            if stack:
                stack.pop()

    sys.setprofile(prof)
    try:
        rc = run(argv)
    finally:
        sys.setprofile(None)
    return rc, files, edges, back


fit_argv = [
    "fit",
    "--vcf",
    "data/example/cohort.vcf.gz",
    "--pheno",
    "data/example/pheno.tsv",
    "--covar",
    "data/example/covar.tsv",
    "--out",
    out,
    "--overwrite",
    "--no-progress",
]
for name, argv in (
    ("fit", fit_argv),
    ("export", ["export", out, "--out", out + "/e.tsv", "--no-progress"]),
):
    rc, files, edges, back = trace(argv)
    print(f"== {name} (rc {rc}): {len(files)} genoattn files")
    print("   files: " + " -> ".join(f.replace("genoattn/", "") for f in files))
    calls = {k: n for k, n in back.items() if k[2] != "<callback>"}
    cb = sum(n for k, n in back.items() if k[2] == "<callback>")
    print(
        f"   returns (a call into a file already on the stack): {sum(calls.values())}; "
        f"plus {cb} calls of callbacks handed down (lambdas, closures)"
    )
    for (a, b, fn), n in sorted(calls.items()):
        print(f"     {a} -> {b}:{fn} x{n}")
    ret = collections.Counter(b for (a, b, fn) in calls)
    print("   returns per file: " + (", ".join(f"{f} {n}" for f, n in ret.items()) or "none"))
