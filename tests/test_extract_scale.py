"""`toxitrace extract` at scale, in real processes: a run killed with SIGKILL resumes to a byte-identical file, and two
torchrun ranks (gloo, CPU) score one shard each and merge them into the single-process output."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

import pytest

from toxitrace.model import ToxicityClassifier, save_classifier
from toxitrace.test_utils import tiny_char_bert

CLI = 'import sys; from toxitrace.cli import main; sys.exit(main())\n'
BASE = ['你真是个蠢货', '今天天气不错', '滚回你老家去吧', '谢谢你的帮助！']


@pytest.fixture
def setup(tmp_path):
    enc, tok = tiny_char_bert(BASE + [str(i) for i in range(10)])
    save_classifier(tmp_path/'clf', ToxicityClassifier(enc), tok, max_length=32)
    texts = [f'{BASE[i % 4]}{i}' for i in range(600)]
    (tmp_path/'in.txt').write_text('\n'.join(texts) + '\n', encoding='utf-8')
    (tmp_path/'cli.py').write_text(CLI)
    return tmp_path, texts


def _extract(d, out, *extra, **popen):
    cmd = [sys.executable, str(d/'cli.py'), 'extract', '--model', str(d/'clf'), '--input', str(d/'in.txt'),
           '--output', str(out), '--chunk-size', '50', '--batch-size', '16', '--no-progress', *extra]
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _lines(p: Path) -> int: return p.read_bytes().count(b'\n') if p.exists() else 0


def test_killed_extract_resumes_byte_identical(setup):
    d, texts = setup
    whole = _extract(d, d/'whole.jsonl')
    assert whole.wait(timeout=300) == 0, whole.stderr.read()
    child = _extract(d, d/'out.jsonl')
    partial = d/'out.jsonl.partial'
    deadline = time.time() + 120
    while _lines(partial) < 150 and child.poll() is None and time.time() < deadline: time.sleep(0.02)
    child.send_signal(signal.SIGKILL); child.wait(timeout=30)
    done = _lines(partial)
    assert 150 <= done < len(texts), done
    assert not (d/'out.jsonl').exists()
    with open(partial, 'ab') as f: f.write('{"index": 99999, "text": "半'.encode())    # as if killed mid-write
    again = _extract(d, d/'out.jsonl')
    assert again.wait(timeout=300) == 0, again.stderr.read()
    out = again.stdout.read()
    assert f'(resumed after {done // 50 * 50})' in out, out
    assert (d/'out.jsonl').read_bytes() == (d/'whole.jsonl').read_bytes()
    assert not partial.exists() and not (d/'out.jsonl.partial.json').exists()


def test_two_torchrun_ranks_merge_in_input_order(setup):
    d, texts = setup
    single = _extract(d, d/'single.jsonl')
    assert single.wait(timeout=300) == 0, single.stderr.read()
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', '2', str(d/'cli.py'),
           'extract', '--model', str(d/'clf'), '--input', str(d/'in.txt'), '--output', str(d/'ranks.jsonl'),
           '--chunk-size', '50', '--batch-size', '16', '--no-progress']
    r = subprocess.run(cmd, env={**os.environ, 'OMP_NUM_THREADS': '1'}, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(l) for l in (d/'ranks.jsonl').read_text(encoding='utf-8').splitlines()]
    ref = [json.loads(l) for l in (d/'single.jsonl').read_text(encoding='utf-8').splitlines()]
    assert [x['index'] for x in rows] == list(range(len(texts)))
    assert [(x['text'], x['label'], x['spans']) for x in rows] == [(x['text'], x['label'], x['spans']) for x in ref]
    assert max(abs(a['prob_toxic'] - b['prob_toxic']) for a, b in zip(rows, ref)) < 1e-5
    assert sorted(p.name for p in d.iterdir() if 'rank' in p.name) == ['ranks.jsonl']   # the rank files are merged away
    assert '300 texts' in r.stdout and '600 texts' in r.stdout, r.stdout   # rank 1 reports its shard, rank 0 the merged file
