"""`toxitrace serve` as a real process, the one way the tests start it: a free port on 127.0.0.1, its log in a file (a
pipe nobody reads would fill and stall it), started once /healthz answers, stopped with SIGTERM then SIGKILL."""
import os, socket, subprocess, sys, time
from pathlib import Path

import httpx

CLI = 'import sys; from toxitrace.cli import main; sys.exit(main())\n'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def serve_command(d: Path, model: Path, *args) -> list[str]:
    "The command line of `toxitrace serve --model MODEL ARGS`, run through `d/cli.py` (written if missing)."
    if not (d/'cli.py').exists(): (d/'cli.py').write_text(CLI)
    return [sys.executable, str(d/'cli.py'), 'serve', '--model', str(model), *args]


def start_serve(d: Path, model: Path, *args, env=None, ready=(200,)):
    "A started serve process and its URL, once /healthz answers with a status in `ready` (at most 120 s); the log goes to `d`."
    port = free_port()
    log = open(d/f'serve-{port}.log', 'w+', encoding='utf-8')
    proc = subprocess.Popen(serve_command(d, model, '--port', str(port), *args), stdout=log, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, 'OMP_NUM_THREADS': '1', **(env or {})})
    proc.log = log
    url, deadline = f'http://127.0.0.1:{port}', time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, stop(proc)
        try:
            if httpx.get(url + '/healthz', timeout=1).status_code in ready: return proc, url
        except httpx.TransportError: time.sleep(0.2)
    stop(proc); raise AssertionError('serve did not start')


def stop(proc) -> str:
    "Stop `proc` (SIGTERM, then SIGKILL after 60 s); its log."
    if proc.poll() is None: proc.terminate()
    try: proc.wait(timeout=60)
    except subprocess.TimeoutExpired: proc.kill(); proc.wait(timeout=30)
    proc.log.seek(0)
    return proc.log.read()
