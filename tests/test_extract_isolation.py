"""`toxitrace extract` and `merge` where runs meet (issue #27), as real processes: a second writer on one output is
refused (one line, nothing written) while another holds the output, `merge` refuses shards of other weights or another input of the same size,
and a JSONL line holding a lone surrogate is replaced and flagged, not a bare TypeError."""
import json, os, shutil, subprocess, sys, time
from pathlib import Path

import pytest
import torch

from toxitrace.model import ToxicityClassifier, save_classifier
from toxitrace.test_utils import tiny_char_bert

CLI = 'import sys; from toxitrace.cli import main; sys.exit(main())\n'
BASE = ['你真是个蠢货', '今天天气不错', '滚回你老家去吧', '谢谢你的帮助！']


@pytest.fixture
def setup(tmp_path):
    enc, tok = tiny_char_bert(BASE + [str(i) for i in range(10)])
    torch.manual_seed(1); save_classifier(tmp_path/'clf', ToxicityClassifier(enc), tok, max_length=32)
    torch.manual_seed(2); save_classifier(tmp_path/'other', ToxicityClassifier(enc), tok, max_length=32)
    shutil.copytree(tmp_path/'clf', tmp_path/'clf2')                      # the same files, but other weights of the same size
    shutil.copyfile(tmp_path/'other'/'model.safetensors', tmp_path/'clf2'/'model.safetensors')
    texts = [f'{BASE[i % 4]}{i}' for i in range(400)]
    (tmp_path/'in.txt').write_text('\n'.join(texts) + '\n', encoding='utf-8')
    (tmp_path/'cli.py').write_text(CLI)
    return tmp_path, texts


def _run(d, *args, wait=True):
    cmd = [sys.executable, str(d/'cli.py'), *args]
    p = subprocess.Popen(cmd, env={**os.environ, 'OMP_NUM_THREADS': '1'}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait: return p
    out, err = p.communicate(timeout=300)
    return p.returncode, out, err


def _extract(d, out, *extra, model='clf', inp='in.txt', wait=True):
    return _run(d, 'extract', '--model', str(d/model), '--input', str(d/inp), '--output', str(out), '--chunk-size', '20',
                '--batch-size', '4', '--no-progress', *extra, wait=wait)


def test_second_writer_on_one_output_is_refused(setup):
    """While a writer holds an output (here this process, through the same lock a running extract takes: deterministic,
    where two real runs race on a fast machine), a second extract on it exits 2 with one line and writes nothing; once
    the lock is released the same command writes every record."""
    from toxitrace.extract import output_lock
    d, texts = setup
    with output_lock(d/'out.jsonl'):
        rc, out, err = _extract(d, d/'out.jsonl')
    assert rc == 2 and 'another extract is writing it' in err and len(err.strip().splitlines()) == 1, (rc, err)
    assert not (d/'out.jsonl').exists() and not (d/'out.jsonl.partial').exists()
    rc, _, err = _extract(d, d/'out.jsonl')                                 # the lock is released: the run writes it whole
    assert rc == 0, err
    recs = [json.loads(l) for l in (d/'out.jsonl').read_text(encoding='utf-8').splitlines()]
    assert [r['index'] for r in recs] == list(range(len(texts))) and [r['text'] for r in recs] == texts
    with output_lock(d/'out.jsonl'): pass                                   # and released after it


def test_merge_refuses_shards_of_other_weights_or_input(setup):
    d, texts = setup
    files = lambda m: sorted((p.name, p.stat().st_size) for p in (d/m).iterdir())
    assert files('clf') == files('clf2') and (d/'clf'/'model.safetensors').read_bytes() != (d/'clf2'/'model.safetensors').read_bytes()
    other = [t[::-1] for t in texts]                                       # same size in bytes, other texts
    (d/'b').mkdir(); (d/'b'/'in.txt').write_text('\n'.join(other) + '\n', encoding='utf-8')   # same name, same size
    assert (d/'b'/'in.txt').stat().st_size == (d/'in.txt').stat().st_size
    for k, part, model, inp in ((0, '0/2', 'clf', 'in.txt'), (1, '1/2', 'clf', 'in.txt'), (2, '1/2', 'clf2', 'in.txt'), (3, '1/2', 'clf', 'b/in.txt')):
        rc, _, err = _extract(d, d/f's{k}.jsonl', '--shard', part, model=model, inp=inp)
        assert rc == 0, err
    rc, _, err = _run(d, 'merge', str(d/'s0.jsonl'), str(d/'s2.jsonl'), '--output', str(d/'m.jsonl'))
    assert rc == 2 and 'different model weights' in err and 's0.jsonl' in err and 's2.jsonl' in err, err
    rc, _, err = _run(d, 'merge', str(d/'s0.jsonl'), str(d/'s3.jsonl'), '--output', str(d/'m.jsonl'))
    assert rc == 2 and 'different input files' in err and 's3.jsonl' in err, err
    assert not (d/'m.jsonl').exists()
    rc, out, err = _run(d, 'merge', str(d/'s1.jsonl'), str(d/'s0.jsonl'), '--output', str(d/'m.jsonl'))
    assert rc == 0 and f'{len(texts)} records' in out, err


def test_jsonl_lone_surrogate_is_replaced_and_flagged(setup):
    d, _ = setup
    lines = [json.dumps(dict(text=t)) for t in ('\ud800', '你真是个\udfff蠢货', BASE[1], '  ')]   # ASCII JSON: valid \\ud800 escapes
    (d/'odd.jsonl').write_text('\n'.join(lines) + '\n', encoding='utf-8')
    for out in ('odd.jsonl.out.jsonl', 'odd.parquet'):
        rc, stdout, err = _extract(d, d/out, inp='odd.jsonl')
        assert rc == 0, err
        assert "2 texts held characters UTF-8 cannot encode" in stdout
    recs = [json.loads(l) for l in (d/'odd.jsonl.out.jsonl').read_text(encoding='utf-8').splitlines()]
    assert [(r['text'], r['flags']) for r in recs] == [('\ufffd', ['replaced']), ('你真是个\ufffd蠢货', ['replaced']), (BASE[1], []), ('  ', ['empty'])]
    assert (recs[3]['label'], recs[3]['prob_toxic'], recs[3]['spans']) == (0, 0.0, [])
    import pandas as pd
    assert [list(f) for f in pd.read_parquet(d/'odd.parquet')['flags']] == [r['flags'] for r in recs]
