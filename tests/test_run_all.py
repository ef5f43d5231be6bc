"""The main job: runs experiments, writes REPORT.md, exits non-zero on a failure."""

import json
import subprocess
import sys
from pathlib import Path

import run_all

ROOT = Path(__file__).resolve().parents[1]


def test_every_experiment_script_is_in_the_main_job():
    scripts = {p.stem for p in (ROOT / "experiments").glob("*.py")}
    helpers = {"common", "reference", "run_all", "benchmark", "device_check"}
    assert {e.name for e in run_all.EXPERIMENTS} == scripts - helpers


def test_report_with_book_figures_and_figure_links(tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "experiments" / "run_all.py"),
        "--quick",
        "--out",
        str(tmp_path),
    ]
    cmd += ["--only", "calculus", "autograd"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[1/2] calculus ... ok" in proc.stdout and "[2/2] autograd ... ok" in proc.stdout
    report = (tmp_path / "REPORT.md").read_text()
    assert "2 of 2 experiments ran" in report
    # Ours next to the book's, from experiments/reference.py.
    assert report.count("2.30000, 2.03000, 2.00300, 2.00030, 2.00003") == 2
    assert "y = 28, grad = [0.0, 4.0, 8.0, 12.0]" in report
    assert "[calculus](calculus/calculus.png)" in report
    assert json.loads((tmp_path / "autograd" / "metrics.json").read_text())["y"] == 28


def test_a_failing_experiment_fails_the_job(tmp_path, monkeypatch):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "calculus.py").write_text("import sys\nprint('boom')\nsys.exit(3)\n")
    monkeypatch.setattr(run_all, "HERE", scripts)
    status = run_all.main(["--only", "calculus", "--out", str(tmp_path / "out")])
    assert status == 1
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "0 of 1 experiments ran" in report and "**failed**" in report
    assert "boom" in (tmp_path / "out" / "calculus" / "log.txt").read_text()


def test_benchmark_quick_writes_the_documented_json(tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "experiments" / "benchmark.py"),
        "--quick",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "benchmark.json").read_text())
    for key in ("matmul_gflops", "bandwidth_gbs", "data_load_s", "peak_rss_mib"):
        assert isinstance(result[key], float) and result[key] > 0, key
    for name in ("mlp", "softmax"):
        assert set(result[name]) == {"epoch_s", "floor_s", "ratio", "compile_s"}
        assert result[name]["ratio"] == result[name]["epoch_s"] / result[name]["floor_s"]
    for name in ("kfold", "sweep"):
        assert set(result[name]) == {"vmap_s", "sequential_s", "speedup"}
    assert "memory bandwidth" in proc.stdout
