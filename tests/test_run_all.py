"""The main job: runs experiments in one worker, writes REPORT.md and run_all.json, exits
non-zero on a failure, recompiles nothing the second time; and the benchmark's JSON."""

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jaxdl.results import FolderLock

from harness import benchmark, run_all

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
