"""The installed `toxitrace` console script: what a user types in a shell."""
import subprocess, sys
from pathlib import Path

BIN = Path(sys.executable).parent / 'toxitrace'

def run(*args):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=120)

def test_help_lists_subcommands():
    r = run('--help')
    assert r.returncode == 0, r.stderr
    assert 'demo' in r.stdout

def test_demo_help_shows_options():
    r = run('demo', '--help')
    assert r.returncode == 0, r.stderr
    for opt in ('--train-size', '--warmup-epochs', '--preset', '--force', '--data-dir', '--no-arcl', '--refiner'):
        assert opt in r.stdout

def test_bad_preset_is_one_line_error(tmp_path):
    (tmp_path/'cold').mkdir()
    r = run('demo', '--preset', 'huge', '--out', str(tmp_path), '--data-dir', str(tmp_path))
    assert r.returncode == 2
    assert "unknown preset 'huge'" in r.stderr and 'Traceback' not in r.stderr

def test_every_subcommand_has_help():
    for cmd in ('train', 'experiment', 'annotate', 'evaluate', 'extract', 'data', 'push', 'convert'):
        r = run(cmd, '--help')
        assert r.returncode == 0 and 'usage: toxitrace ' + cmd in r.stdout, (cmd, r.stderr)

def test_experiment_dry_run_lists_the_grid():
    root = Path(__file__).parents[1]
    r = run('experiment', str(root/'experiments'/'small-cold.json'), '--dry-run')
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith('Experiment small-cold: 15 runs'), r.stdout
