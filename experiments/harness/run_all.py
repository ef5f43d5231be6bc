"""The main job: runs every experiment with its default configuration and writes a report.

The experiments run one after another in one worker process (``main(["--out", OUT/NAME])`` of
each script, so JAX and the libraries are imported once), each with its output (everything
written to stdout and stderr) in ``OUT/NAME/log.txt`` and a line here when it ends. While one
runs, a status line (redrawn in a terminal, else once a minute) says which, for how long, its
latest epoch and about how long the job has left (:mod:`harness.status`). An experiment
that fails (an exception, or ``SystemExit``) fails alone; one that kills the worker is marked
failed and a fresh worker runs the rest. With JAX's persistent compilation cache (on by
default, see ``--compilation-cache``), a second run compiles nothing.

Then ``OUT/REPORT.md`` lists each experiment's headline figures next to the book's (from
``reference.py``), whether they lie within the book's bands, and links to its PNGs, and
``OUT/run_all.json`` records each experiment's wall, compile and train seconds (train: the
experiment's own time less its compilation: training, evaluation, figures) and the total. The
exit status is 1 when any experiment failed; the report still covers the others.

With ``--notebooks`` each experiment runs instead as its notebook, in a Jupyter kernel of its
own, and the executed notebooks (code, outputs, figures) are saved to
``OUT/notebooks/NAME.ipynb`` and linked from the report (needs ``pip install -e
'.[notebooks]'``).

Command: ``python experiments/harness/run_all.py [--out results] [--only NAME ...] [--quick]
[--notebooks] [--compilation-cache DIR|off]`` (``--quick`` passes ``--quick`` to every
experiment: a seconds-long smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import ctypes
import functools
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from jaxdl.compilation import ENV_VAR, cache_dir
from jaxdl.errors import InputError
from jaxdl.results import FolderLock, write_json, write_text

# run as a script: the harness imported from experiments/, as the sections import it
if __name__ == "__main__":
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from harness import NOTEBOOK_ARGS, RESULTS_ROOT, SECTIONS
from harness.config import add_cache_flag, folder
from harness.notebooks import as_notebook
from harness.reference import BOOK
from harness.report import EXPERIMENTS, Entry, band_check
from harness.status import Status


@contextlib.contextmanager
def _output_to(log):
    """Sends everything written to stdout and stderr (by Python or not) to the file ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def worker(names: list[str], out: Path, quick: bool, report, scripts: Path = SECTIONS) -> None:
    """Runs the experiments ``names`` (scripts in ``scripts``) in this process, one after
    another; after each, writes a JSON line ``{"name", "ok", "seconds"}`` to ``report``."""
    from harness.section import run_script  # imports JAX: the worker's, not the job's

    for name in names:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with open(folder / "log.txt", "w") as log, _output_to(log):
            try:
                run_script(name, ["--out", str(folder), *["--quick"] * quick], scripts)
                ok = True
            except (Exception, SystemExit):  # the experiment fails; the others go on
                traceback.print_exc()
                ok = False
        seconds = time.perf_counter() - start
        report.write(json.dumps({"name": name, "ok": ok, "seconds": seconds}) + "\n")
        report.flush()


def _die_with_parent() -> None:
    """Called first in the worker (Linux): the kernel sends it SIGTERM when the job's process
    dies, even by SIGKILL, so no worker goes on training and writing alone. (Set here, not in
    a ``preexec_fn``, which is unsafe in a process with threads.)"""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the job died before that: adopted by init already
            sys.exit(1)


def run(names: list[str], out: Path, quick: bool) -> Iterator[dict]:
    """Runs the experiments in worker processes (:func:`worker`) and yields each one's report
    as it ends. When a worker dies, the experiment it was running is reported failed and a new
    worker takes the rest."""
    pending = list(names)
    while pending:
        read_fd, write_fd = os.pipe()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(write_fd)]
        cmd += ["--scripts", str(SECTIONS), "--out", str(out), "--only", *pending]
        cmd += ["--quick"] * quick
        env = {**os.environ, "MPLBACKEND": "Agg"}
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, pass_fds=(write_fd,), env=env)
        os.close(write_fd)
        try:
            with os.fdopen(read_fd) as reports:
                for line in reports:
                    report = json.loads(line)
                    pending.remove(report["name"])
                    began = time.perf_counter()
                    yield report
            proc.wait()
        finally:  # the job stopped (an error, `kill`, Ctrl-C): so does its worker
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
        if pending:
            name = pending.pop(0)
            with open(out / name / "log.txt", "a") as log:
                log.write(f"\nthe worker process died (exit status {proc.returncode})\n")
            yield {"name": name, "ok": False, "seconds": time.perf_counter() - began}


@functools.cache
def _socket_folder() -> str:
    """A temporary folder for the kernels' sockets, removed when this process ends."""
    folder = tempfile.mkdtemp(prefix="jaxdl-kernels-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def notebook_client(notebook, folder: Path):
    """An nbclient client that executes ``notebook`` in a kernel of its own, run in ``folder``,
    talking to it over local sockets (IPC): over TCP, every kernel warns that its traffic is
    not encrypted."""
    import nbclient
    from jupyter_client.manager import KernelManager

    # The sockets' paths are absolute: the kernel runs in ``folder``, its client here.
    sockets = Path(_socket_folder()) / "ipc"
    manager = KernelManager(kernel_name="python3", transport="ipc", ip=str(sockets))
    return nbclient.NotebookClient(
        notebook, km=manager, resources={"metadata": {"path": str(folder)}}
    )


class _NoSignalHandlers(asyncio.SelectorEventLoop):
    """An event loop that leaves SIGINT and SIGTERM to the job: it refuses nbclient's handlers
    (as a loop outside the main thread would), which shut the kernel down under the running
    cell and then failed on an assertion, the job going on."""

    def add_signal_handler(self, sig, callback, *args):
        raise RuntimeError("run_all.py handles SIGINT and SIGTERM")


def execute(client) -> None:
    """Executes the notebook of ``client`` (:func:`notebook_client`), then shuts its kernel
    down (nbclient leaves a kernel it did not start running: each notebook's kernel, holding
    its memory, lived until the job ended). On Ctrl-C or ``kill`` (:class:`Stopped`), at once,
    and the interruption goes on to the job."""
    loop = _NoSignalHandlers()
    task = loop.create_task(client.async_execute(cleanup_kc=True))
    try:
        loop.run_until_complete(task)
    except (KeyboardInterrupt, SystemExit):
        # What nbclient's tasks meet as they are stopped midway (this very exception, in the
        # one it reached; the client gone, in another) is not for asyncio to log.
        loop.set_exception_handler(lambda loop, context: None)
        client.shutdown_kernel = "immediate"
        if not task.done():  # (one that the signal ended stopped the loop: not run again)
            task.cancel()  # nbclient's own cleanup runs: the kernel shut down
            with contextlib.suppress(BaseException):
                loop.run_until_complete(task)
        raise
    finally:
        left = asyncio.all_tasks(loop)  # nbclient's polls of a cell it stopped waiting for
        for t in left:
            t.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.close()
        atexit.unregister(client._cleanup_kernel)  # nbclient's, done here: at exit it hung
        if client.km is not None and client.km.has_kernel:  # stopped while it started
            client.km.shutdown_kernel(now=True)


def run_notebooks(names: list[str], out: Path, quick: bool) -> Iterator[dict]:
    """Runs each experiment as its notebook (as a learner's working copy has it,
    ``notebooks.as_notebook``) in a kernel of its own (nbclient), saves the executed notebook,
    outputs included, to ``out/notebooks/NAME.ipynb``, and yields each one's report as it
    ends. A notebook that fails is saved too, up to its failing cell."""
    try:
        import jupytext
        import nbclient
    except ImportError as error:
        raise SystemExit(
            "run_all.py --notebooks: needs the notebooks extra (pip install -e '.[notebooks]'): "
            f"{error}"
        ) from error
    for name in names:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[NOTEBOOK_ARGS] = shlex.join(["--out", str(folder), *["--quick"] * quick])
        notebook = as_notebook(name, SECTIONS)
        client = notebook_client(notebook, SECTIONS)
        start, ok = time.perf_counter(), True
        with open(folder / "log.txt", "w") as log:
            try:
                execute(client)
                log.write(f"executed as a notebook: {out / 'notebooks' / name}.ipynb\n")
            except nbclient.exceptions.CellExecutionError as error:
                log.write(str(error))
                ok = False
        write_text(out / "notebooks" / f"{name}.ipynb", jupytext.writes(notebook, "ipynb"))
        yield {"name": name, "ok": ok, "seconds": time.perf_counter() - start}


def report_row(
    entry: Entry, folder: Path, ok: bool, seconds: float, root: Path, quick: bool = False
) -> str:
    """One Markdown table row: name, our figures, the book's, in its bands, figures, time."""
    band = "—"
    if ok:
        try:
            metrics = json.loads((folder / "metrics.json").read_text())
            ours = entry.headline(metrics)
            band = band_check(entry, metrics, quick)
        except (OSError, KeyError, TypeError, ValueError, IndexError) as error:
            ok, ours = False, f"metrics.json unreadable: {error!r}"
    else:
        ours = f"**failed**: see [log]({(folder / 'log.txt').relative_to(root)})"
    # A failed experiment leaves its folder as it was: PNGs there are an earlier run's.
    pngs = sorted(folder.glob("*.png")) if ok and folder.exists() else []
    notebook = root / "notebooks" / f"{entry.name}.ipynb"
    pngs += [notebook] if notebook.exists() else []
    links = " ".join(
        f"[{p.stem if p.suffix == '.png' else 'notebook'}]({p.relative_to(root)})" for p in pngs
    )
    ours, band = ours.replace("|", "\\|"), band.replace("|", "\\|")
    book = BOOK[entry.name].result
    return f"| {entry.name} | {ours} | {book} | {band} | {links} | {seconds:.1f} s |"


def timing(folder: Path, seconds: float, ok: bool) -> dict:
    """An experiment's seconds for run_all.json: wall (in the worker), and compile and train
    from its metrics.json (train: its own time less compilation), with its compilations. A
    failed experiment wrote no metrics.json: one there is an earlier run's, not read."""
    if not ok:
        return {"wall_s": seconds}
    try:
        t = json.loads((folder / "metrics.json").read_text())["timing"]
    except (OSError, KeyError, ValueError):
        return {"wall_s": seconds}
    return {
        "wall_s": seconds,
        "compile_s": t["compile_seconds"],
        "train_s": t["seconds"] - t["compile_seconds"],
        "compilations": t["compilations"],
        "cache_hits": t["cache_hits"],
    }


def main(argv=None) -> int:
    names = [e.name for e in EXPERIMENTS]
    p = argparse.ArgumentParser(prog="run_all.py", description=__doc__)
    p.add_argument("--out", type=folder, default=RESULTS_ROOT, help="results folder")
    p.add_argument("--only", nargs="+", choices=names, help="run only these experiments")
    p.add_argument("--quick", action="store_true", help="pass --quick to every experiment")
    add_cache_flag(p)
    p.add_argument(
        "--notebooks",
        action="store_true",
        help="run each experiment as its notebook and save the executed notebooks to "
        "OUT/notebooks/NAME.ipynb (needs the notebooks extra)",
    )
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--scripts", type=Path, default=SECTIONS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    entries = [e for e in EXPERIMENTS if not args.only or e.name in args.only]
    if args.worker is not None:
        _die_with_parent()
        sys.stdout.reconfigure(line_buffering=True)  # the log, line by line: the job's status
        sys.path.insert(0, str(args.scripts))
        with os.fdopen(args.worker, "w") as report:
            try:
                worker([e.name for e in entries], args.out, args.quick, report, args.scripts)
            except KeyboardInterrupt:  # Ctrl-C reaches the whole job: the main process says so
                return 130
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        lock = FolderLock(args.out, "--out")
    except InputError as error:
        p.error(str(error))
    previous = signal.signal(signal.SIGTERM, _stop)  # `kill`: through the finally clauses
    try:
        return _job(args, entries)
    except (KeyboardInterrupt, Stopped) as stop:
        how = "stopped (kill)" if isinstance(stop, Stopped) else "interrupted (Ctrl-C)"
        print(
            f"run_all.py: {how}; the sections that ended are in {args.out}, "
            "REPORT.md is not written",
            file=sys.stderr,
        )
        return stop.code if isinstance(stop, Stopped) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        lock.release()


class Stopped(SystemExit):
    """The job got SIGTERM (``kill``): raised where it runs, it ends the job through its
    finally clauses (worker or kernel stopped, the folder's lock released), status 128 + 15."""


def _stop(signum, frame):
    raise Stopped(128 + signum)


def _job(args, entries) -> int:
    """The main job proper: every experiment, then run_all.json and REPORT.md."""
    cache = cache_dir(args.compilation_cache)
    os.environ[ENV_VAR] = str(cache) if cache else "off"
    print(f"compilation cache: {cache or 'off'}")
    by_name = {e.name: e for e in entries}
    rows, failed, times = [], [], {}
    total_start = time.perf_counter()
    run_them = run_notebooks if args.notebooks else run
    progress = Status(list(by_name), args.out, args.quick)
    reports = run_them(list(by_name), args.out, args.quick)
    with progress.shown():
        for i, report in enumerate(reports, 1):
            entry, folder = by_name[report["name"]], args.out / report["name"]
            row = report_row(entry, folder, report["ok"], report["seconds"], args.out, args.quick)
            ok = report["ok"] and "metrics.json unreadable" not in row
            times[entry.name] = t = {"ok": ok, **timing(folder, report["seconds"], ok)}
            parts = [f"{t['wall_s']:.1f} s"]
            if "compile_s" in t:
                parts.append(f"compile {t['compile_s']:.1f} s, train {t['train_s']:.1f} s")
            status = "ok" if ok else "FAILED"
            with progress.paused():
                print(f"[{i}/{len(entries)}] {entry.name} ... {status} ({'; '.join(parts)})")
                if not ok:
                    failed.append(entry.name)
                    tail = (folder / "log.txt").read_text().splitlines()[-15:]
                    print("\n".join("    " + line for line in tail), file=sys.stderr)
                sys.stdout.flush()
            progress.begin(i)  # the next section runs
            rows.append(row)
    total = time.perf_counter() - total_start
    write_json(
        args.out / "run_all.json",
        {
            "total_s": total,
            "compilation_cache": str(cache) if cache else None,
            "experiments": times,
        },
    )
    header = [
        "# jaxdl results",
        "",
        f"{len(entries) - len(failed)} of {len(entries)} experiments ran"
        + (" (`--quick`: smoke runs, not the book's configuration)" if args.quick else "")
        + f", in {total:.0f} s.",
        "",
        "| experiment | jaxdl | book | in the book's band | figures and notebook | time |",
        "|---|---|---|---|---|---|",
    ]
    path = write_text(args.out / "REPORT.md", "\n".join(header + rows) + "\n")
    print(f"wrote {path}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
