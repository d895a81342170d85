"""ember._cuda for the CPU, on the CUDA emulator: the CUDA kernels tested and run without a GPU.

Two steps:

1. *translate* copies csrc/cuda into the build folder, rewriting the only two pieces of CUDA
   syntax that a C++ compiler cannot be taught with a header (and makes static shared arrays
   the block's own memory rather than plain statics):

       kernel<T><<<grid, block, smem, stream>>>(args);
           -> ::cuda_emu::launch("kernel<T>", &kernel<T>, [](auto&... a) { kernel<T>(a...); },
                                 grid, block, smem, stream)(args);
       extern __shared__ __align__(16) float smem[];
           -> float* smem = static_cast<float*>(::cuda_emu::dynamic_shared_memory());
       __shared__ float tile[32][33];
           -> float (&tile)[32][33] = *static_cast<float (*)[32][33]>(
                  ::cuda_emu::static_shared(&site, sizeof(float[32][33]), alignof(float)));

   (``.cu`` files become ``.cpp``; everything else is left to include/cuda_runtime.h.)
2. *build* runs CMake on tests/cuda_emulator/CMakeLists.txt, which compiles the translated
   sources with g++ into a ``_cuda`` extension module.

3. *install* puts the built module in place of ember._cuda in this process (before ember is
   imported): ember then sees one GPU, "ember CUDA emulator (CPU)".

Used by tests/conftest.py and tests/test_cuda_emulated.py; also a command line tool::

    python tests/cuda_emulator/emulator.py build [--sanitize]     # prints the module's path
    python tests/cuda_emulator/emulator.py run SCRIPT [ARGS...]   # SCRIPT on the emulated GPU

e.g. ``... run examples/demo.py --device cuda --epochs 1``. A test suite runs on it with
``EMBER_EMULATED_CUDA=<module path> python -m pytest tests/test_cuda.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CUDA_SOURCES = ROOT / "csrc" / "cuda"
SHARED_HEADERS = [ROOT / "csrc" / "checks.h"]  # csrc/ headers that csrc/cuda includes
DEFAULT_BUILD_DIR = ROOT / "build" / "cuda-emulator"

# `kernel<<<config>>>(` at the start of a statement (ember launches one kernel per line).
LAUNCH = re.compile(r"^(?P<indent>\s*)(?P<kernel>[^\s].*?)<<<(?P<config>.*?)>>>\(")
# A kernel's declaration: is it a template (then its address needs explicit arguments)?
KERNEL = re.compile(r"(?P<template>template\s*<[^{;]*?>\s*)?__global__\s+void\s+"
                    r"(?:__launch_bounds__\([^)]*\)\s*)?(?P<name>\w+)\s*\(")
# A kernel with __launch_bounds__(MAX_THREADS[, ...]): the emulator checks the bound at launch.
BOUNDED_KERNEL = re.compile(r"__global__\s+void\s+__launch_bounds__\((?P<bounds>[^)]*)\)\s*"
                            r"\w+\s*\(")
# `__shared__ [__align__(n)] TYPE NAME[DIMS]...;` (a static shared array, one per line)
STATIC_SHARED = re.compile(r"^(?P<indent>\s*)__shared__\s+(?:__align__\((?P<align>\d+)\)\s+)?"
                           r"(?P<type>.+?)\s+(?P<name>\w+)(?P<dims>(?:\[[^\]]+\])+);\s*$")
DYNAMIC_SHARED = re.compile(
    r"extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?(?P<type>\w+)\s+(?P<name>\w+)\[\];")


def plain_kernels(texts: list[str]) -> set[str]:
    """Names of the kernels that are not templates (their address is `&name`)."""
    return {m["name"] for text in texts for m in KERNEL.finditer(text) if not m["template"]}


def translate_source(text: str, name: str, plain: set[str] = frozenset()) -> str:
    """One source file, with its kernel launches and dynamic shared memory rewritten.

    `plain`: the non-template kernels, which cudaFuncSetAttribute may name by address.
    """
    text = check_launch_bounds(text)
    out = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        code = line.split("//", 1)[0]
        if "<<<" in code:
            m = LAUNCH.match(line)
            if not m:
                raise ValueError(f"{name}:{number}: a kernel launch the translator does not "
                                 f"understand (one `kernel<<<...>>>(` per line): {line.strip()}")
            kernel = m["kernel"]
            # &kernel identifies it for cudaFuncSetAttribute, unless it is a template whose
            # arguments the launch deduces (such a kernel has no address to take).
            has_address = kernel.endswith(">") or kernel.strip() in plain
            kernel_id = f"reinterpret_cast<const void*>(&{kernel})" if has_address else "nullptr"
            body = f"[](auto&... emu_args) {{ {kernel}(emu_args...); }}"
            line = (f"{m['indent']}::cuda_emu::launch(\"{kernel}\", {kernel_id}, {body}, "
                    f"{m['config']})(" + line[m.end():])
        m = STATIC_SHARED.match(line)
        if m:  # a reference into the block's shared memory, as for dynamic shared memory
            t, name, dims = m["type"], m["name"], m["dims"]
            line = (f"{m['indent']}static const char {name}_site_ = 0; "
                    f"{t} (&{name}){dims} = *static_cast<{t} (*){dims}>("
                    f"::cuda_emu::static_shared(&{name}_site_, sizeof({t}{dims}), "
                    f"{m['align'] or 'alignof(' + t + ')'}));\n")
        line = DYNAMIC_SHARED.sub(
            lambda m: (f"{m['type']}* {m['name']} = "
                       f"static_cast<{m['type']}*>(::cuda_emu::dynamic_shared_memory());"),
            line)
        out.append(line)
    return "".join(out)


def check_launch_bounds(text: str) -> str:
    """Starts the body of every kernel declared with __launch_bounds__(N, ...) with a check
    that it was launched with at most N threads per block (a GPU refuses such a launch:
    the kernel was compiled for at most N). Added on the line of the body's `{`, so line
    numbers stay the source's."""
    for m in reversed(list(BOUNDED_KERNEL.finditer(text))):
        depth, i = 1, m.end()
        while depth:  # to the end of the parameter list
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        brace = text.index("{", i)
        limit = m["bounds"].split(",")[0].strip()
        text = (text[:brace + 1] + f" ::cuda_emu::check_launch_bounds({limit});"
                + text[brace + 1:])
    return text


def translate(dest: Path) -> None:
    """Writes the translated csrc/cuda (and the emulator's selftest.cu) to dest/cuda; files
    that did not change keep their timestamps, so a rebuild compiles only what changed."""
    target = dest / "cuda"
    target.mkdir(parents=True, exist_ok=True)
    sources = [p for p in sorted(CUDA_SOURCES.iterdir()) if p.suffix in (".cu", ".cuh", ".h")]
    sources.append(HERE / "selftest.cu")
    texts = {src: src.read_text() for src in sources}
    plain = plain_kernels(list(texts.values()))
    wanted = set()
    for src in sources:
        out = target / (src.stem + ".cpp" if src.suffix == ".cu" else src.name)
        wanted.add(out.name)
        text = translate_source(texts[src], src.name, plain)
        if not out.exists() or out.read_text() != text:
            out.write_text(text)
    for stale in target.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    # the boundary checks the CUDA bindings share with the CPU module (plain C++: no translation)
    for shared in SHARED_HEADERS:
        out = dest / shared.name
        if not out.exists() or out.read_text() != shared.read_text():
            out.write_text(shared.read_text())


def build(build_dir: Path = DEFAULT_BUILD_DIR, sanitize: bool = False,
          jobs: int | None = None) -> Path:
    """Translates and compiles; returns the path of the built ``_cuda`` module."""
    import pybind11  # a test extra: only this tool needs it at run time

    cmake = shutil.which("cmake")
    if cmake is None:
        raise RuntimeError("cmake not found")
    build_dir = Path(build_dir) / ("asan" if sanitize else "plain")
    translate(build_dir / "src")
    cache = build_dir / "cmake"
    configure = [cmake, "-S", str(HERE), "-B", str(cache), "-DCMAKE_BUILD_TYPE=Release",
                 f"-DEMBER_EMU_SOURCES={build_dir / 'src'}",
                 f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
                 f"-DPython_EXECUTABLE={sys.executable}",
                 f"-DEMBER_EMU_SANITIZE={'ON' if sanitize else 'OFF'}"]
    for cmd in (configure,
                [cmake, "--build", str(cache), "-j", str(jobs or os.cpu_count() or 1)]):
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{run.stdout[-6000:]}\n"
                               f"{run.stderr[-6000:]}")
    built = sorted(cache.glob("_cuda*.so")) + sorted(cache.glob("_cuda*.pyd"))
    if not built:
        raise RuntimeError(f"no _cuda module in {cache}")
    return built[0]


def install(module_path: str | os.PathLike) -> None:
    """Makes the emulated module this process's ember._cuda; call before importing ember."""
    if "ember" in sys.modules:
        raise RuntimeError("install the emulated ember._cuda before ember is imported")
    spec = importlib.util.spec_from_file_location("ember_cuda_emulator._cuda", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["ember._cuda"] = module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the emulated module and print its path")
    b.add_argument("--sanitize", action="store_true",
                   help="-fsanitize=address,undefined (run Python with LD_PRELOAD=libasan)")
    b.add_argument("-j", "--jobs", type=int, default=None)
    r = sub.add_parser("run", help="run a Python script with the emulated GPU")
    r.add_argument("script")
    r.add_argument("args", nargs=argparse.REMAINDER)
    for p in (b, r):
        p.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD_DIR)
    args = parser.parse_args()
    if args.command == "build":
        print(build(args.build_dir, args.sanitize, args.jobs))
        return
    install(build(args.build_dir))
    sys.argv = [args.script, *args.args]
    sys.path.insert(0, str(Path(args.script).resolve().parent))
    runpy.run_path(args.script, run_name="__main__")


if __name__ == "__main__":
    main()
