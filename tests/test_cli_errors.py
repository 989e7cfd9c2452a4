"""Every command's bad input: one clear line, a non-zero exit, nothing created.

``vgcore chapter5`` and ``vgcore bench`` check their inputs -- the extras
they need, ``--data``, ``--out``/``--json``, the numbers -- before they
create or compute anything, and report a problem as one line on stderr
naming it and the fix, never as a traceback.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vgcore
from vgcore import cli
from vgcore.experiments import chapter5

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(vgcore.__file__)))


def one_line_error(capsys, command="vgcore chapter5"):
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "Traceback" not in captured.err + captured.out
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"{command}: error: "), err
    return err


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a folder")
    return tmp_path


@pytest.mark.parametrize("args,needle", [
    (["--out", "afile"], "--out afile: is a file, not a folder"),
    (["--out", "afile/results"], "afile is a file, so no folder can be made under it"),
    (["--data", "nowhere", "--out", "new"], "--data nowhere: does not exist; give a folder "
                                            "of the four MNIST IDX files"),
    (["--data", "empty", "--out", "new"], "--data empty: folder holds neither the four IDX "
                                          "files nor mnist.pkl.gz"),
    (["--seeds", "0", "--out", "new"], "--seeds must be a positive int"),
])
def test_chapter5_refuses_bad_inputs_in_one_line_and_creates_nothing(folder, capsys, args,
                                                                     needle):
    (folder / "empty").mkdir()
    before = sorted(p.name for p in folder.iterdir())
    assert cli.main(["chapter5", "--quick", "--no-progress"] + args) == 2
    assert needle in one_line_error(capsys)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_chapter5_names_an_unwritable_folder(folder, capsys, monkeypatch):
    (folder / "locked").mkdir()
    real = os.access
    monkeypatch.setattr(chapter5.os, "access",
                        lambda p, mode: False if Path(p).name == "locked" else real(p, mode))
    assert cli.main(["chapter5", "--quick", "--out", "locked/results"]) == 2
    assert "cannot write in" in one_line_error(capsys)
    assert not (folder / "locked" / "results").exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root may write into a folder without write permission")
def test_chapter5_names_a_folder_without_write_permission(folder, capsys):
    locked = folder / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert cli.main(["chapter5", "--quick", "--out", str(locked / "results")]) == 2
        assert "permission denied" in one_line_error(capsys)
    finally:
        locked.chmod(0o700)


def test_a_failure_during_the_run_is_one_line_too(folder, capsys, monkeypatch):
    def full(*args, **kw):
        raise OSError(28, "No space left on device", str(folder / "out"))

    monkeypatch.setattr(chapter5.Path, "mkdir", full)
    assert cli.main(["chapter5", "--quick", "--data", "sample", "--no-progress",
                     "--out", "out"]) == 1
    assert "No space left on device" in one_line_error(capsys)


def test_chapter5_without_its_extra_says_how_to_install_it(tmp_path):
    """As after ``pip install .`` without ``[chapter5]``: tqdm and matplotlib
    cannot be imported."""
    script = ("import sys; sys.path.insert(0, sys.argv[1])\n"
              "sys.modules['tqdm'] = None; sys.modules['matplotlib'] = None\n"
              "from vgcore import cli\n"
              "sys.exit(cli.main(['chapter5', '--quick', '--out', sys.argv[2]]))\n")
    r = subprocess.run([sys.executable, "-c", script, ROOT, str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "tqdm and matplotlib are not installed" in r.stderr
    assert 'pip install "vgcore[chapter5]"' in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args,needle", [
    (["--repeat", "0"], "--repeat must be >= 1"),
    (["--threads", "0"], "--threads must be >= 1"),
    (["--data", "nowhere"], "--data nowhere: not a folder"),
    (["--json", "afile/report.json"], "no folder"),
    (["--json", "."], "is a folder; give a file name"),
    (["--only", "no such case"], "matches no case"),
])
def test_bench_refuses_bad_arguments_before_running(folder, capsys, args, needle):
    assert cli.main(["bench", "--quick"] + args) == 2
    assert needle in one_line_error(capsys, "vgcore bench")


def test_the_loader_command_reports_in_one_line(folder, capsys):
    from vgcore import mnist_loader
    assert mnist_loader._main(["build-sample", "nowhere", "out.npz"]) == 1
    err = one_line_error(capsys, "python -m vgcore.mnist_loader")
    assert "nowhere: missing" in err
    assert mnist_loader._main(["download", "afile/sub"]) == 1
    assert "Not a directory" in one_line_error(capsys, "python -m vgcore.mnist_loader")
