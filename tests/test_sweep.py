"""`symnn.sweep` and `symnn sweep`: the same numbers on every engine, failures recorded, resumable files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

import symnn
from symnn.cli import main
from symnn.errors import UserInputError
from symnn.runtime.training import TrainConfig
from symnn.sweeps import engines, precompile, worker
from symnn.sweeps.plan import Run, plan

#: A small sweep: 2 x 2 configurations x 2 seeds x 2 folds on moons, a few epochs each.
SMALL = dict(grid={"lr": [0.01, 0.05], "activation": ["relu", "tanh"]}, seeds=2, cv=2, data="moons", epochs=4,
             layers=[2, 8, 1])


def _numbers(result) -> dict:
    return {r["id"]: (r["metrics"], r["history"], r["error"]) for r in result.records}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return symnn.sweep(**SMALL, jobs=1, out=str(tmp_path_factory.mktemp("serial") / "runs.jsonl"), progress=False)


def test_a_sweep_runs_every_combination_and_writes_one_line_per_run(serial):
    assert serial.ok and len(serial.records) == 16
    lines = [json.loads(line) for line in Path(serial.out).read_text().splitlines()]
    assert sorted(r["id"] for r in lines) == sorted(r["id"] for r in serial.records)
    for r in lines:  # the contract's fields
        assert {"config", "seed", "fold", "metrics", "seconds", "host", "pid", "error"} <= set(r)
        assert set(r["config"]) == {"lr", "activation"} and r["fold"] in (0, 1) and r["error"] is None
        assert {"loss", "train_accuracy", "test_accuracy"} <= set(r["metrics"]) and len(r["history"]) == 4


def test_a_sweep_run_trains_exactly_as_symnn_train_does():
    from symnn.runtime.training import train

    result = symnn.sweep({"lr": [0.05]}, seeds=2, data="moons", epochs=4, layers=[2, 8, 1], jobs=1, progress=False)
    for r in result.records:
        expected = train(TrainConfig(data="moons", epochs=4, layers=[2, 8, 1], lr=0.05, seed=r["seed"]),
                         progress=False).summary()
        assert r["history"] == expected["history"]
        assert r["metrics"] == {k: expected[k] for k in ("loss", "train_accuracy", "test_accuracy", "test_loss")}


def test_jobs_2_gives_the_serial_numbers_in_other_processes_with_one_blas_thread(serial):
    from threadpoolctl import threadpool_info

    result = symnn.sweep(**SMALL, jobs=2, progress=False)
    assert _numbers(result) == _numbers(serial)
    assert {r["pid"] for r in result.records}.isdisjoint({os.getpid()})
    assert {r["blas_threads"] for r in result.records} == {1}
    if (os.cpu_count() or 1) > 1:  # the limit is the sweep's: BLAS here still uses more threads
        assert max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas") > 1


def test_a_local_dask_cluster_gives_the_serial_numbers(serial):
    pytest.importorskip("distributed")
    result = symnn.sweep(**SMALL, local_cluster=2, progress=False)
    assert _numbers(result) == _numbers(serial)
    assert result.engine.startswith("Dask at tcp://127.0.0.1:")
    assert {r["blas_threads"] for r in result.records} == {1} and os.getpid() not in {r["pid"] for r in result.records}


def test_the_local_cluster_listens_on_127_0_0_1_only_and_a_sweep_by_its_address_gives_the_serial_numbers(serial):
    pytest.importorskip("distributed")
    import psutil

    with engines.engine(local_cluster=2) as eng:
        assert eng.info["scheduler"].startswith("tcp://127.0.0.1:")
        assert all(a.startswith("tcp://127.0.0.1:") for a in eng.info["worker_addresses"])
        me = psutil.Process()
        listening = [c.laddr.ip for p in [me, *me.children(recursive=True)]
                     for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        assert listening and set(listening) == {"127.0.0.1"}
        result = symnn.sweep(**SMALL, scheduler=eng.info["scheduler"], progress=False)
        with pytest.MonkeyPatch.context() as mp:  # were this machine another: one worker there compiles first
            mp.setattr(engines, "this_host", lambda: "elsewhere")
            configs = precompile.representatives(TrainConfig(**{k: SMALL[k] for k in ("data", "epochs", "layers")}),
                                                 plan(TrainConfig(), SMALL["grid"]))
            assert len(engines.precompile_on_other_hosts(eng, precompile.precompile, configs)) == 1
    assert result.engine == f"Dask at {eng.info['scheduler']} (2 workers)"
    assert _numbers(result) == _numbers(serial)


def test_without_dask_the_cluster_options_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed: `import distributed` fails
    with pytest.raises(UserInputError, match=r"pip install 'symnn\[dask\]'"), engines.engine(local_cluster=2):
        pass


def test_a_bad_configuration_is_recorded_the_others_finish_and_the_exit_code_is_1(tmp_path, capsys):
    out = tmp_path / "runs.jsonl"
    code = main(["sweep", "--data", "moons", "--epochs", "3", "--grid", "activation=relu,nosuch", "--seeds", "2",
                 "--jobs", "2", "--out", str(out), "--json", "--plot", str(tmp_path / "sweep.png")])
    assert code == 1 and (tmp_path / "sweep.png").is_file()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    failed = [r for r in lines if r["error"]]
    assert len(lines) == 4 and len(failed) == 2
    assert all(r["config"]["activation"] == "nosuch" and "unknown activation" in r["error"] and r["metrics"] is None
               for r in failed)
    summary = json.loads(capsys.readouterr().out)
    assert summary["failed"] == 2 and summary["configs"][0]["config"] == {"activation": "relu"}
    code = main(["sweep", "--data", "moons", "--epochs", "3", "--grid", "activation=relu,nosuch", "--seeds", "2",
                 "--jobs", "1", "--out", str(out), "--json", "--resume"])  # the failed runs are run again
    assert code == 1 and json.loads(capsys.readouterr().out)["resumed"] == 2
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(again) == 4 and sorted(r["id"] for r in again) == sorted(r["id"] for r in lines)
    assert [r for r in again if not r["error"]] == [r for r in lines if not r["error"]]


def test_workers_compile_nothing_the_parent_compiled_first(tmp_path):
    """On empty caches (symnn's and Numba's), the parent compiles each kernel set once; workers load them."""
    env = dict(os.environ, SYMNN_CACHE_DIR=str(tmp_path / "cache"), NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    out = tmp_path / "runs.jsonl"
    subprocess.run([sys.executable, "-m", "symnn", "sweep", "--data", "moons", "--epochs", "2", "--layers", "2,4,1",
                    "--grid", "activation=tanh,x*tanh(softplus(x))", "--seeds", "2",
                    "--jobs", "2", "--out", str(out), "--json"], env=env, check=True, capture_output=True, timeout=600)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 4 and all(r["error"] is None for r in lines)
    assert [r["compiled"] for r in lines] == [[]] * 4


def test_a_run_counts_what_numba_compiles_in_it():
    """The counter the test above relies on: a formula no one has seen compiles its kernels."""
    formula = f"x*tanh(x) + {time.time_ns() % 997 + 1}e-6*x"
    record = worker.run(asdict(TrainConfig(data="xor", epochs=1)), Run({"activation": formula}, 0, None, "new"), None)
    assert record["error"] is None and any("act_" in name for name in record["compiled"])


def _sweep_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "symnn", "sweep", "--data", "moons", "--layers", "2,16,16,1", "--epochs", "60",
            "--grid", "lr=0.001,0.003,0.01", "--seeds", "4", "--jobs", "1", "--out", str(out), *extra]


def _wait_for_lines(out: Path, n: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"the sweep wrote fewer than {n} lines")


def test_resume_after_a_kill_runs_only_the_missing_runs(tmp_path):
    out = tmp_path / "runs.jsonl"
    proc = subprocess.Popen(_sweep_command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_lines(out, 3, proc)
    proc.kill()
    proc.wait()
    before = [json.loads(line) for line in out.read_text().splitlines()]
    assert 3 <= len(before) < 12
    with open(out, "a") as f:
        f.write('{"id": "cut short by the kill')  # a line a kill cut in half
    done = subprocess.run(_sweep_command(out, "--resume", "--json"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["resumed"] == len(before) and summary["runs"] == 12
    after = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(after) == 12 and len({r["id"] for r in after}) == 12
    assert after[:len(before)] == before  # the finished runs are kept as they were, not run again


def test_ctrl_c_leaves_a_valid_file_and_resume_finishes_it(tmp_path):
    """Ctrl-C in a terminal interrupts the whole process group: the sweep and its loky workers."""
    out = tmp_path / "runs.jsonl"
    command = [*_sweep_command(out)[:-4], "--jobs", "2", "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,  # as a terminal's Ctrl-C, even where our SIGINT is ignored:
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for_lines(out, 2, proc)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "--resume" in err
    lines = out.read_text().splitlines()
    assert all(json.loads(line)["error"] is None for line in lines) and out.read_text().endswith("\n")
    assert subprocess.run(_sweep_command(out, "--resume"), capture_output=True, timeout=300).returncode == 0
    assert len(out.read_text().splitlines()) == 12


@pytest.mark.parametrize("argv, problem", [
    (["--grid", "nosuch=1"], "not a train option"),
    (["--grid", "lr=abc"], "not a number"),
    (["--jobs", "2", "--local-cluster", "2"], "not allowed with"),
    (["--data", "nosuch"], "unknown data set"),
    (["--scheduler", "localhost"], "tcp://"),
    (["--grid", "lr=0.1", "--grid", "lr=0.2"], "twice"),
    (["--plot", "x.txt"], ".png"),
    (["--metric", "nosuch"], "--metric"),
])
def test_bad_usage_exits_2_with_one_line(tmp_path, capsys, argv, problem):
    code = main(["sweep", "--epochs", "1", "--out", str(tmp_path / "runs.jsonl"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("symnn: error: ") and problem in err and err.count("\n") == 1


def test_an_existing_results_file_needs_resume(tmp_path, capsys):
    out = tmp_path / "runs.jsonl"
    argv = ["sweep", "--data", "xor", "--epochs", "1", "--jobs", "1", "--out", str(out)]
    assert main(argv) == 0
    assert main(argv) == 2 and "--resume" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0 and len(out.read_text().splitlines()) == 1
    assert main([*argv[:-2], "--epochs", "2", "--out", str(out), "--resume"]) == 2  # another sweep's file
    assert "another sweep" in capsys.readouterr().err
