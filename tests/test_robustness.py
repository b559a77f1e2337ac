"""`toxitrace robustness` and the `--normalize` option of `extract`, through the installed console script."""
import json, subprocess, sys
from pathlib import Path

BIN = Path(sys.executable).parent / 'toxitrace'

def run(*args):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=300)

def one_error(r, cmd):
    "Exit 2, exactly one `toxitrace CMD: error:` line, no traceback."
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    lines = [l for l in r.stderr.splitlines() if l.startswith(f'toxitrace {cmd}: ')]
    assert len(lines) == 1 and lines[0].startswith(f'toxitrace {cmd}: error: ') and 'Traceback' not in r.stderr, r.stderr
    return lines[0]

def tiny_model(folder, texts):
    from toxitrace.model import ToxicityClassifier, save_classifier
    from toxitrace.test_utils import tiny_char_bert
    enc, tok = tiny_char_bert(list(texts))
    return save_classifier(folder, ToxicityClassifier(enc), tok, max_length=32)

def test_robustness_help_and_unknown_type():
    r = run('robustness', '--help')
    assert r.returncode == 0 and '--normalize' in r.stdout and '--types' in r.stdout, r.stderr
    line = one_error(run('robustness', '--model', 'nowhere', '--types', 'leet'), 'robustness')
    assert "unknown cloaking types ['leet']" in line and line.startswith('toxitrace robustness: error: --types'), line

def test_extract_and_serve_document_normalize():
    for cmd in ('extract', 'serve'):
        r = run(cmd, '--help')
        assert r.returncode == 0 and '--normalize' in r.stdout, (cmd, r.stderr)

def test_extract_normalize_reports_spans_on_the_input(tmp_path):
    from toxitrace.detector import Detector
    from toxitrace.perturb import default_normalizer
    texts = ['你真是个蠢貨', '你就是个lj，sb', '今天天气不错🐶']
    tiny_model(tmp_path/'clf', texts + ['蠢货垃圾傻逼狗'])
    (tmp_path/'in.txt').write_text('\n'.join(texts) + '\n', encoding='utf-8')
    outs = {}
    for flag in ([], ['--normalize']):
        out = tmp_path/f'out{len(flag)}.jsonl'
        r = run('extract', '--model', str(tmp_path/'clf'), '--input', str(tmp_path/'in.txt'), '--output', str(out),
                '--all-spans', '--no-progress', '--device', 'cpu', *flag)
        assert r.returncode == 0, r.stderr[-2000:]
        outs[bool(flag)] = [json.loads(l) for l in out.read_text(encoding='utf-8').splitlines()]
    nz = default_normalizer()
    for rec, plain, t in zip(outs[True], outs[False], texts):
        assert rec['text'] == t and plain['text'] == t and len(rec['saliency']) == len(t)
        assert rec['normalized'] == nz(t)[0] and 'normalized' not in plain
        for s in rec['spans']: assert s['text'] == t[s['start']:s['stop']]
    assert outs[True][0]['normalized'] == '你真是个蠢货'
    ref = Detector.from_pretrained(tmp_path/'clf', normalize=True).predict(texts, progress=False, all_spans=True)
    assert [r['spans'] for r in outs[True]] == [r['spans'] for r in ref]
