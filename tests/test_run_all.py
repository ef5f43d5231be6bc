"""The main job: runs experiments in one worker, writes REPORT.md and run_all.json, exits
non-zero on a failure, recompiles nothing the second time; and the benchmark's JSON."""

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jaxdl.errors import InputError
from jaxdl.results import FolderLock

from harness import NOTEBOOK_ARGS, benchmark, run_all, section

ROOT = Path(__file__).resolve().parents[1]


def test_every_experiment_script_is_in_the_main_job():
    scripts = {p.stem for p in (ROOT / "experiments").glob("*.py")}
    assert {e.name for e in run_all.EXPERIMENTS} == scripts


@pytest.mark.slow
def test_report_with_book_figures_and_figure_links_then_a_second_run_compiles_nothing(tmp_path):
    cache = tmp_path / "cache"
    cmd = [sys.executable, str(ROOT / "experiments" / "harness" / "run_all.py"), "--quick"]
    cmd += ["--only", "calculus", "autograd", "--compilation-cache", str(cache)]
    proc = subprocess.run([*cmd, "--out", str(tmp_path / "a")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[1/2] calculus ... ok" in proc.stdout and "[2/2] autograd ... ok" in proc.stdout
    report = (tmp_path / "a" / "REPORT.md").read_text()
    assert "2 of 2 experiments ran" in report
    # Ours next to the book's, from experiments/harness/reference.py.
    assert report.count("2.30000, 2.03000, 2.00300, 2.00030, 2.00003") == 2
    assert "y = 28, grad = [0.0, 4.0, 8.0, 12.0]" in report
    assert "[calculus](calculus/calculus.png)" in report
    assert json.loads((tmp_path / "a" / "autograd" / "metrics.json").read_text())["y"] == 28
    first = json.loads((tmp_path / "a" / "run_all.json").read_text())
    assert first["compilation_cache"] == str(cache) and first["total_s"] > 0
    for name in ("calculus", "autograd"):
        t = first["experiments"][name]
        assert set(t) == {"ok", "wall_s", "compile_s", "train_s", "compilations", "cache_hits"}
        assert t["ok"] and t["compilations"] > 0 and t["wall_s"] >= t["compile_s"] > 0

    again = subprocess.run([*cmd, "--out", str(tmp_path / "b")], capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    second = json.loads((tmp_path / "b" / "run_all.json").read_text())
    for name in ("calculus", "autograd"):
        assert second["experiments"][name]["compilations"] == 0, name  # all from the cache
        assert second["experiments"][name]["cache_hits"] > 0, name
    for name in ("calculus", "autograd"):  # same results
        a, b = (json.loads((tmp_path / d / name / "metrics.json").read_text()) for d in "ab")
        a.pop("timing"), b.pop("timing")
        assert a == b, name


@pytest.mark.slow
def test_an_experiment_that_kills_its_worker_fails_alone(tmp_path, monkeypatch):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "calculus.py").write_text("import os\nprint('dying', flush=True)\nos._exit(7)\n")
    (scripts / "autograd.py").write_text(
        textwrap.dedent(
            """
            import json, pathlib, sys

            out = pathlib.Path(sys.argv[sys.argv.index("--out") + 1])
            out.mkdir(parents=True, exist_ok=True)
            metrics = {"y": 28.0, "grad": [0.0, 4.0, 8.0, 12.0]}
            (out / "metrics.json").write_text(json.dumps(metrics))
            """
        )
    )
    monkeypatch.setattr(run_all, "SECTIONS", scripts)
    status = run_all.main(["--only", "calculus", "autograd", "--out", str(tmp_path / "out")])
    assert status == 1
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "1 of 2 experiments ran" in report and "**failed**" in report
    assert "y = 28, grad = [0.0, 4.0, 8.0, 12.0]" in report  # the next worker ran autograd
    log = (tmp_path / "out" / "calculus" / "log.txt").read_text()
    assert "dying" in log and "the worker process died (exit status 7)" in log


@pytest.mark.slow
def test_a_failing_experiment_fails_the_job(tmp_path, monkeypatch):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "calculus.py").write_text("import sys\nprint('boom')\nsys.exit(3)\n")
    monkeypatch.setattr(run_all, "SECTIONS", scripts)
    status = run_all.main(["--only", "calculus", "--out", str(tmp_path / "out")])
    assert status == 1
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "0 of 1 experiments ran" in report and "**failed**" in report
    assert "boom" in (tmp_path / "out" / "calculus" / "log.txt").read_text()


def has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


@pytest.mark.slow
def test_benchmark_quick_writes_the_documented_json(tmp_path, capsys):
    benchmark.main(["--quick", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "benchmark.json").read_text())
    for key in ("matmul_gflops", "bandwidth_gbs", "data_load_s", "peak_rss_mib", "kfold_s"):
        assert isinstance(result[key], float) and result[key] > 0, key
    for key in ("import_jax_s", "import_jaxdl_s", "first_use_s"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["import_ratio"] == result["import_jaxdl_s"] / result["import_jax_s"]
    assert result["first_use_ratio"] == result["first_use_s"] / result["import_jax_s"]
    assert isinstance(result["kfold_compiles"], int) and result["kfold_compiles"] > 0
    assert set(result["mlp"]) == {"epoch_s", "floor_s", "ratio", "compile_s"}
    lenet = {"epoch_s", "floor_s", "ratio", "compile_s", "flops_per_example"}
    torch = {"pytorch_epoch_s", "pytorch_steps", "pytorch_ratio"} if has_torch() else set()
    assert set(result["lenet"]) == lenet | torch
    assert result["lenet"]["ratio"] == result["lenet"]["epoch_s"] / result["lenet"]["floor_s"]
    assert set(result["softmax"]) == {
        "epoch_s",
        "floor_s",
        "ratio",
        "compile_s",
        "compute_floor_s",
        "compute_ratio",
    }
    for name in ("mlp", "softmax"):
        assert result[name]["ratio"] == result[name]["epoch_s"] / result[name]["floor_s"]
    softmax = result["softmax"]
    assert softmax["compute_ratio"] == softmax["epoch_s"] / softmax["compute_floor_s"]
    n = 2000  # --quick: the first 2000 training images
    expected = 4 * n * 784 * 10 / (result["matmul_gflops"] * 1e9)
    assert softmax["compute_floor_s"] == expected
    for name in ("kfold", "sweep"):
        assert set(result[name]) == {"vmap_s", "sequential_s", "speedup"}
    assert "run_all_cold_s" not in result  # only with --run-all
    # LeNet's epoch both ways (the CPU-sized ResNet-18's and the first results: not --quick)
    both = result["convolutions"]["lenet"]
    assert set(result["convolutions"]) == {"lenet"} and "first_result" not in result
    assert both["lax_over_cpu_forms"] == both["lax_s"] / both["cpu_forms_s"]
    assert "memory bandwidth" in capsys.readouterr().out


@pytest.mark.slow
def test_notebooks_are_executed_saved_and_linked(tmp_path):
    status = run_all.main(["--quick", "--notebooks", "--only", "calculus", "--out", str(tmp_path)])
    assert status == 0
    notebook = json.loads((tmp_path / "notebooks" / "calculus.ipynb").read_text())
    outputs = [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the tangent-line figure
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert "[notebook](notebooks/calculus.ipynb)" in (tmp_path / "REPORT.md").read_text()
    assert (tmp_path / "calculus" / "metrics.json").exists()  # the notebook wrote the results


@pytest.mark.parametrize("flag", ["--out", "--compilation-cache"])
def test_a_folder_flag_naming_a_file_is_refused(tmp_path, capsys, flag):
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_:
        run_all.main(["--only", "calculus", flag, str(file)])
    assert exit_.value.code == 2
    assert f"argument {flag}: expected a folder, got the file {file}" in capsys.readouterr().err


SLOW = textwrap.dedent(
    """
    import os, pathlib, sys, time

    out = pathlib.Path(sys.argv[sys.argv.index("--out") + 1])
    out.mkdir(parents=True, exist_ok=True)
    (out / "started").write_text(str(os.getpid()))
    time.sleep(60)
    (out / "finished").write_text("still training after the job was killed")
    """
)

JOB = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[3])
    from harness import run_all
    from pathlib import Path
    run_all.SECTIONS = Path(sys.argv[1])
    sys.exit(run_all.main(["--only", "calculus", "--out", sys.argv[2]]))
    """
)


def _start_job(scripts: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", JOB, str(scripts), str(out), str(ROOT / "experiments")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < end, f"{path} never came"
        time.sleep(0.05)


def _gone(pid: int, seconds: float = 10) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["kill", "kill-9"])
def test_a_killed_job_takes_its_worker_with_it(tmp_path, how):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "calculus.py").write_text(SLOW)
    job = _start_job(scripts, tmp_path / "out")
    _wait_for(tmp_path / "out" / "calculus" / "started")
    worker = int((tmp_path / "out" / "calculus" / "started").read_text())
    job.send_signal(how)
    job.communicate(timeout=30)
    assert _gone(worker), "the worker goes on after the job was killed"
    assert not (tmp_path / "out" / "calculus" / "finished").exists()


@pytest.mark.slow
def test_ctrl_c_ends_the_job_in_one_line_and_frees_the_folder(tmp_path):
    """Ctrl-C reaches the job and its worker (the terminal's process group): exit status 130,
    one line on what was kept, no traceback from either process, and the folder's lock
    released for the next run."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "calculus.py").write_text(SLOW)
    cmd = [
        sys.executable,
        "-c",
        JOB,
        str(scripts),
        str(tmp_path / "out"),
        str(ROOT / "experiments"),
    ]
    job = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    _wait_for(tmp_path / "out" / "calculus" / "started")
    os.killpg(job.pid, signal.SIGINT)
    _, err = job.communicate(timeout=30)
    assert job.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().endswith("REPORT.md is not written"), err
    FolderLock(tmp_path / "out", "--out").release()  # the next run takes the folder


@pytest.mark.slow
def test_a_second_job_on_the_same_results_folder_is_refused(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "calculus.py").write_text(SLOW)
    first = _start_job(scripts, tmp_path / "out")
    try:
        _wait_for(tmp_path / "out" / "calculus" / "started")
        second = _start_job(scripts, tmp_path / "out")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2
        assert re.search(r"--out: \S+out is in use by another run \(process \d+ on ", err), err
    finally:
        first.terminate()
        first.communicate(timeout=30)


@pytest.mark.slow
def test_a_failed_experiment_shows_nothing_of_an_earlier_run(tmp_path, monkeypatch):
    out = tmp_path / "out"
    (out / "calculus").mkdir(parents=True)  # an earlier, successful run's files
    (out / "calculus" / "metrics.json").write_text(
        json.dumps(
            {
                "limits": [2.3],
                "timing": {
                    "seconds": 9.0,
                    "compile_seconds": 4.0,
                    "compilations": 3,
                    "cache_hits": 0,
                },
            }
        )
    )
    (out / "calculus" / "calculus.png").write_bytes(b"\x89PNG old")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "calculus.py").write_text("raise SystemExit(3)\n")
    monkeypatch.setattr(run_all, "SECTIONS", scripts)
    assert run_all.main(["--only", "calculus", "--out", str(out)]) == 1
    report = (out / "REPORT.md").read_text()
    assert "calculus.png" not in report and "**failed**" in report
    times = json.loads((out / "run_all.json").read_text())["experiments"]["calculus"]
    assert set(times) == {"ok", "wall_s"} and times["ok"] is False


# Another run's lock on a folder, held until the block ends: a process that is not this one's
# ancestor, as a script started from a terminal beside run_all is.
HOLD = (
    "import sys\nfrom jaxdl.results import FolderLock\nFolderLock(sys.argv[1], '--out')\n"
    "print('locked', flush=True)\nsys.stdin.read()\n"
)


@contextlib.contextmanager
def _held_by_another_run(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-c", HOLD, str(folder)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "locked\n"
        yield f"process {proc.pid} on {socket.gethostname()}"
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


@pytest.mark.parametrize("how", ["script", "notebook"])
def test_a_section_writing_inside_a_folder_another_run_holds_is_refused_before_training(
    tmp_path, capsys, monkeypatch, how
):
    """Every writer of a results folder takes its lock, and a folder's lock covers what lies
    inside it: a section (script or notebook kernel) started beside run_all, into a folder of
    run_all's ``results/``, is refused at its start, in one line naming the folder and
    run_all's process, before any training, writing nothing (it wrote its results into the
    folder while run_all ran, and REPORT.md showed figures its metrics.json contradicted)."""
    results, out = tmp_path / "results", tmp_path / "results" / "linear_regression"
    argv = ["--quick", "--out", str(out)]
    if how == "notebook":
        monkeypatch.setattr(section, "in_notebook", lambda: True)
        monkeypatch.setenv(NOTEBOOK_ARGS, " ".join(argv))
    with _held_by_another_run(results) as holder, pytest.raises(InputError) as refused:
        section.run_script("linear_regression", argv)
    assert str(refused.value) == (
        f"--out: {out.resolve()} is inside {results.resolve()}, in use by another run "
        f"({holder}); wait for it to finish or use another folder"
    )
    assert "epoch" not in capsys.readouterr().out
    assert sorted(os.listdir(results)) == [".lock"]  # nothing written, no folder made
    monkeypatch.setattr(sys, "argv", ["linear_regression.py"])
    with pytest.raises(SystemExit) as exit_:  # the command line's line, status 1
        section._short_errors(InputError, refused.value, None)
    assert exit_.value.code == 1
    assert capsys.readouterr().err == f"linear_regression.py: error: {refused.value}\n"


def test_run_all_is_refused_while_another_run_writes_inside_its_folder(tmp_path, capsys):
    """The other way round: run_all on ``results/`` while a section writes
    ``results/calculus/`` is refused before it runs anything, naming the section's folder and
    process."""
    out = tmp_path / "results"
    with _held_by_another_run(out / "calculus") as holder, pytest.raises(SystemExit) as exit_:
        run_all.main(["--only", "calculus", "--quick", "--out", str(out)])
    assert exit_.value.code == 2
    assert (
        f"run_all.py: error: --out: {out.resolve()} holds {(out / 'calculus').resolve()}, in use "
        f"by another run ({holder}); wait for it to finish or use another folder\n"
    ) in capsys.readouterr().err
    assert sorted(os.listdir(out)) == [".lock", "calculus"]  # no REPORT.md, no log


def test_the_processes_of_the_run_holding_a_folder_write_inside_it(tmp_path):
    """run_all's workers and notebook kernels write inside the folder run_all holds: a lock
    of a folder holding the one asked for does not count when this process or one of its
    ancestors holds it. A lock made by a tidy run is removed with what it made."""
    lock = FolderLock(tmp_path, "--out")
    try:
        inner = FolderLock(tmp_path / "a" / "b", "--out", tidy=True)  # this process's own
        inner.release()
        assert sorted(os.listdir(tmp_path)) == [".lock"]  # the folders it made, gone
        child = (
            "import sys\nfrom jaxdl.results import FolderLock\nFolderLock(*sys.argv[1:], tidy=1)"
        )
        subprocess.run([sys.executable, "-c", child, tmp_path / "a", "x"], check=True)  # a child
    finally:
        lock.release()


def _ran_before(out: Path, name: str, seconds: float, **flags) -> None:
    """An earlier run of section ``name`` into ``out``: its metrics.json, with its flags."""
    (out / name).mkdir(parents=True, exist_ok=True)
    metrics = {"flags": {"seed": 0, "quick": False, **flags}, "timing": {"seconds": seconds}}
    (out / name / "metrics.json").write_text(json.dumps(metrics))


def test_the_status_names_the_running_section_its_epoch_and_the_time_left(tmp_path):
    """A long job silent while a section runs (70 minutes of nothing during modern_cnns): the
    status says which section runs, for how long, its latest epoch (the last epoch line of its
    log, not an earlier run's) and about how long the job has left, from each section's time
    in its last run at these settings (its metrics.json) and the running network's epochs to
    go; here on a fake clock."""
    _ran_before(tmp_path, "calculus", 30.0)
    _ran_before(tmp_path, "autograd", 600.0)
    lenet = {"epochs": 3, "lr": 0.9, "batch_size": 256, "activation": "sigmoid", "pool": "avg"}
    _ran_before(tmp_path, "lenet", 99.0, **lenet)  # not the book's 10 epochs: not its time
    (tmp_path / "lenet" / "log.txt").write_text("scratch epoch 3/3: train_loss 2.3, 9.00 s\n")
    os.utime(tmp_path / "lenet" / "log.txt", (time.time() - 3600,) * 2)  # an earlier run's
    from harness.status import Status

    now = [0.0]
    status = Status(
        ["calculus", "autograd", "lenet"], tmp_path, False, clock=lambda: now[0], tty=False
    )
    now[0] = 12.0
    assert status.line() == "[1/3] calculus, 12 s; about 10 min left + 1 section not timed before"
    status.begin(1)
    (tmp_path / "autograd" / "log.txt").write_text(
        "scratch epoch 1/10: train_loss 0.9, 95.00 s\nscratch epoch 2/10: train_loss 0.5, 90.00 s\n"
    )
    now[0] += 100.0  # 500 s left of its last time, but 8 epochs of 90 s to go
    assert status.line() == (
        "[2/3] autograd, 2 min: scratch epoch 2/10; about 12 min left + 1 section not timed before"
    )
    status.begin(2)
    assert status.line() == "[3/3] lenet, 0 s; time left unknown (no earlier run)"


def test_a_job_shows_its_status_while_a_section_runs_and_clears_it_on_ctrl_c(
    tmp_path, monkeypatch, capsys
):
    """In a terminal, the job's status line is redrawn while each section runs (its epoch, the
    time left) and cleared before the job's own lines; Ctrl-C clears it before the one line
    that ends the job (status 130)."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")  # the line, cut to the terminal's width, whole
    seen = {"out": "", "err": ""}

    def wait_for(text):
        end = time.monotonic() + 20
        while text not in seen["err"]:
            assert time.monotonic() < end, f"no {text!r} while the section ran: {seen}"
            got = capsys.readouterr()
            seen["out"], seen["err"] = seen["out"] + got.out, seen["err"] + got.err
            time.sleep(0.02)

    def sections(names, out, quick):  # run_all.run's part: the sections, as they end
        (out / "calculus").mkdir(parents=True)
        (out / "calculus" / "log.txt").write_text("scratch epoch 2/10: train_loss 0.5, 3.00 s\n")
        wait_for("scratch epoch 2/10; about 24 s left + 2 sections not timed before\x1b[K")
        yield {"name": "calculus", "ok": False, "seconds": 1.0}
        wait_for("[2/2] autograd, ")
        raise KeyboardInterrupt

    monkeypatch.setattr(run_all, "run", sections)
    status = run_all.main(["--only", "calculus", "autograd", "--out", str(tmp_path)])
    assert status == 130
    got = capsys.readouterr()
    out, err = seen["out"] + got.out, seen["err"] + got.err
    assert "\r[1/2] calculus, " in err
    assert "[1/2] calculus ... FAILED" in out
    assert err.endswith(
        "\r\x1b[Krun_all.py: interrupted (Ctrl-C); the sections that ended are in "
        f"{tmp_path}, REPORT.md is not written\n"
    )


NOTEBOOK_KILLS_ITS_JOB = """# %% [markdown]
# # Calculus
# %%
import os, pathlib, signal, time
pathlib.Path("kernel").write_text(str(os.getpid()))
os.kill(os.getppid(), signal.SIGTERM)  # the job: `kill` while this cell runs
time.sleep(60)
pathlib.Path("finished").write_text("the cell went on after the job was killed")
"""


@pytest.mark.slow
def test_kill_of_the_notebooks_job_ends_it_in_one_line_with_its_kernel(
    tmp_path, monkeypatch, capsys
):
    """A signal while a notebook runs: ``kill`` of ``run_all --notebooks`` reached nbclient's
    own handlers, which shut the kernel down under the running cell and then failed on an
    AssertionError (a traceback, status 1). It ends as ``kill`` of the plain job: one line,
    status 143, the kernel shut down at once, nothing of the notebook written, the folder's
    lock released."""
    pytest.importorskip("nbclient")
    pytest.importorskip("jupytext")
    scripts, out = tmp_path / "scripts", tmp_path / "out"
    scripts.mkdir()
    (scripts / "calculus.py").write_text(NOTEBOOK_KILLS_ITS_JOB)
    monkeypatch.setattr(run_all, "SECTIONS", scripts)
    for name in (NOTEBOOK_ARGS, run_all.ENV_VAR):  # the job sets them: put back after
        monkeypatch.setenv(name, "")
    argv = ["--only", "calculus", "--notebooks", "--compilation-cache", "off", "--out", str(out)]
    assert run_all.main(argv) == 128 + signal.SIGTERM
    assert capsys.readouterr().err == (
        f"run_all.py: stopped (kill); the sections that ended are in {out}, REPORT.md is not "
        "written\n"
    )
    assert _gone(int((scripts / "kernel").read_text())), "the kernel outlived the job"
    assert not (scripts / "finished").exists()
    assert sorted(os.listdir(out)) == [".lock", "calculus"]  # no notebook, no report
    FolderLock(out, "--out").release()  # the next run takes the folder


@pytest.mark.slow
def test_each_notebooks_kernel_is_shut_down_when_it_ends(tmp_path, monkeypatch):
    """A kernel per notebook, never shut down: nbclient leaves running a kernel it did not
    start, so each notebook's kernel (its memory: JAX, the data) lived until the job ended."""
    pytest.importorskip("nbclient")
    pytest.importorskip("jupytext")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "calculus.py").write_text(
        "# %% [markdown]\n# # Calculus\n# %%\nimport os, pathlib\n"
        "pathlib.Path('kernel').write_text(str(os.getpid()))\n"
    )
    monkeypatch.setattr(run_all, "SECTIONS", scripts)
    monkeypatch.setenv(NOTEBOOK_ARGS, "")  # the job sets it: put back after
    (report,) = run_all.run_notebooks(["calculus"], tmp_path / "out", quick=True)
    assert report["ok"], (tmp_path / "out" / "calculus" / "log.txt").read_text()
    assert _gone(int((scripts / "kernel").read_text())), "the kernel outlived its notebook"
