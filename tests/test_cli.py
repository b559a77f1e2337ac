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


# ---- issue 15: nothing silently wrong (each case reproduced where it was seen: at the command line) ----
import json, os, shutil
import pytest

from toxitrace.data import FILES, shared_data_dir

SHARED = shared_data_dir(Path(__file__).parent)


def run_env(*args, **env):
    "The console script with environment overrides (None unsets)."
    e = {k: v for k, v in os.environ.items() if k not in env or env[k] is not None}
    e.update({k: v for k, v in env.items() if v is not None})
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=300, env=e)


def one_error(r, cmd):
    "Exit 2, exactly one `toxitrace CMD: error:` line, no traceback."
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    lines = [l for l in r.stderr.splitlines() if l.startswith(f'toxitrace {cmd}: ')]
    assert len(lines) == 1 and lines[0].startswith(f'toxitrace {cmd}: error: ') and 'Traceback' not in r.stderr, r.stderr
    return lines[0]


def tiny_model(folder, texts=('你真是个蠢货', '今天天气不错')):
    from toxitrace.model import ToxicityClassifier, save_classifier
    from toxitrace.test_utils import tiny_char_bert
    enc, tok = tiny_char_bert(list(texts))
    return save_classifier(folder, ToxicityClassifier(enc), tok, max_length=32)


def test_config_values_are_checked_before_any_work(tmp_path):
    (tmp_path/'c.json').write_text(json.dumps(dict(no_arcl='false', joint_epochs=-1, train_size='many', seed=1.5)))
    line = one_error(run('train', '--config', str(tmp_path/'c.json'), '--out', str(tmp_path/'run')), 'train')
    for part in ("no_arcl='false' (--no-arcl) must be true or false", 'joint_epochs=-1 (--joint-epochs) must be an integer ≥ 1',
                 "train_size='many' (--train-size) must be an integer", 'seed=1.5 (--seed) must be an integer'):
        assert part in line, (part, line)
    assert not (tmp_path/'run').exists()
    assert 'joint_epochs=-1' in one_error(run('train', '--joint-epochs', '-1', '--out', str(tmp_path/'run')), 'train')
    assert "refiner='gpt' (--refiner)" in one_error(run('train', '--refiner', 'gpt', '--out', str(tmp_path/'run')), 'train')
    assert not (tmp_path/'run').exists()      # (a config that is a list, a malformed experiment JSON: 16_cli, in-process)


@pytest.mark.skipif(SHARED is None, reason='needs the shared data')
def test_missing_claude_key_fails_before_the_warmup(tmp_path):
    r = run_env('train', '--refiner', 'claude', '--no-arcl', '--data-dir', str(SHARED), '--out', str(tmp_path/'run'),
                ANTHROPIC_API_KEY=None, ANTHROPIC_AUTH_TOKEN=None)
    line = one_error(r, 'train')
    assert 'No Claude credentials' in line and '--refiner lexicon' in line and 'client=' not in line, line
    assert not (tmp_path/'run'/'warmup').exists()


@pytest.mark.skipif(SHARED is None, reason='needs the shared data')
def test_evaluate_refuses_altered_data_and_records_hashes(tmp_path):
    data = tmp_path/'data'
    for rel in ('cold/test.csv', 'cntp/toxic_base.json'):
        (data/rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy(SHARED/rel, data/rel)
    tiny_model(tmp_path/'clf')
    args = ('evaluate', '--model', str(tmp_path/'clf'), '--data-dir', str(data), '--test-size', '20', '--span-eval-size', '10')
    r = run(*args, '--out', str(tmp_path/'ev.json'))
    assert r.returncode == 0, r.stderr[-3000:]
    rec = json.loads((tmp_path/'ev.json').read_text(encoding='utf-8'))['data']
    assert rec['dir'] == str(data.resolve()) and rec['all_pinned']
    assert rec['files']['cold/test.csv'] == dict(sha256=FILES['cold/test.csv'].sha256, pinned=True)
    lines = (data/'cold'/'test.csv').read_text(encoding='utf-8-sig').split('\n')          # flip one label
    head = lines[1].split(',')
    head[3] = '1' if head[3] == '0' else '0'
    (data/'cold'/'test.csv').write_text('\n'.join([lines[0], ','.join(head), *lines[2:]]), encoding='utf-8')
    line = one_error(run(*args, '--out', str(tmp_path/'ev2.json')), 'evaluate')
    assert 'cold/test.csv: sha256 is' in line and FILES['cold/test.csv'].sha256 in line and not (tmp_path/'ev2.json').exists(), line
    r = run_env(*args, '--out', str(tmp_path/'ev2.json'), TOXITRACE_VERIFY='warn')
    assert r.returncode == 0 and 'DataWarning' in r.stderr, r.stderr[-3000:]
    rec = json.loads((tmp_path/'ev2.json').read_text(encoding='utf-8'))['data']
    assert rec['files']['cold/test.csv']['pinned'] is False and not rec['all_pinned']
    (tmp_path/'afile').write_text('')
    line = one_error(run_env(*args, '--out', str(tmp_path/'afile'/'ev.json'), TOXITRACE_VERIFY='off'), 'evaluate')
    assert f"cannot write {tmp_path/'afile'/'ev.json'}" in line, line


def _toy_data(d, train_texts):
    "A toy data folder in the registered layout (not the pinned files: used with TOXITRACE_VERIFY=off)."
    (d/'cold').mkdir(parents=True); (d/'cntp').mkdir(); (d/'toxicn'/'lexicon').mkdir(parents=True); (d/'state_toxicn').mkdir()
    csv = lambda texts: ',split,topic,label,TEXT\n' + ''.join(f'{i},x,race,{1 - i % 2},"{t}"\n' for i, t in enumerate(texts))
    (d/'cold'/'train.csv').write_text(csv(train_texts), encoding='utf-8')
    for s in ('dev', 'test'): (d/'cold'/f'{s}.csv').write_text(csv(['你真是个蠢货', '今天天气不错'] * 3), encoding='utf-8')
    (d/'cntp'/'toxic_base.json').write_text(json.dumps([dict(sentence_id=0, original_text='你真是个蠢货', is_toxic=True,
                                                                toxic_entity=['蠢货'])], ensure_ascii=False), encoding='utf-8')
    (d/'state_toxicn'/'lexicon.json').write_text(json.dumps(dict(terms=[dict(term='蠢货', category='general', definition='骂人')]),
                                                            ensure_ascii=False), encoding='utf-8')
    for c in ('LGBT', 'general', 'racism', 'region', 'sexism'): (d/'toxicn'/'lexicon'/f'{c}.json').write_text('{"老家": [1]}')


def test_train_with_unicode_line_separators_runs_and_reruns(tmp_path):
    "A training text holding U+2028 etc. went through save_annotations raw and broke the run (and every rerun) at load_annotations."
    from toxitrace.test_utils import tiny_char_bert
    odd = ['\u2028', '\u2029', '\x85', '\x0b', '\x0c', '\x1c', '\x1d', '\x1e']
    texts = [f'你{c}真是个蠢货' if i % 2 == 0 else f'今天{c}天气不错' for i, c in enumerate(odd * 2)]
    _toy_data(tmp_path/'data', texts)
    enc, tok = tiny_char_bert(texts + ['这段话针对特定群体'])
    enc.save_pretrained(tmp_path/'enc'); tok.save_pretrained(tmp_path/'enc')
    args = ('train', '--data-dir', str(tmp_path/'data'), '--out', str(tmp_path/'run'), '--refiner', 'lexicon', '--reasoner', 'template',
            '--train-size', '0', '--valid-size', '0', '--warmup-epochs', '1', '--joint-epochs', '1', '--bs', '8', '--max-length', '16',
            '--reason-max-length', '16', '--no-evaluate')
    kw = dict(TOXITRACE_VERIFY='off', TOXITRACE_SMALL_ENCODER=str(tmp_path/'enc'))
    r = run_env(*args, **kw)                     # before: "Unterminated string" at load_annotations, in this run and every rerun
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(l) for l in (tmp_path/'run'/'cues_refined.jsonl').read_text(encoding='utf-8').split('\n') if l]
    assert sorted(x['text'] for x in rows) == sorted(texts)                # every text, U+2028 and all, read back
    assert not (tmp_path/'run'/'joint_checkpoint.pth').exists()           # removed once the joint stage finished
    meta = json.loads((tmp_path/'run'/'joint'/'toxitrace.json').read_text(encoding='utf-8'))
    assert meta['metadata']['data']['dir'] == str((tmp_path/'data').resolve())
    assert set(meta['metadata']['data']['files']) >= {'cold/train.csv', 'cold/dev.csv'}


def test_truncated_weights_are_a_one_line_error_naming_the_file(tmp_path):
    "Issue 15, item 6: a model.safetensors cut short (a copy or download interrupted) names the file, exit 2."
    from toxitrace.model import ToxicityClassifier, save_classifier
    from toxitrace.test_utils import tiny_char_bert
    enc, tok = tiny_char_bert(['你真是个蠢货'])
    save_classifier(tmp_path/'clf', ToxicityClassifier(enc), tok, max_length=32)
    w = tmp_path/'clf'/'model.safetensors'
    w.write_bytes(w.read_bytes()[:1000])
    (tmp_path/'in.txt').write_text('你真是个蠢货\n', encoding='utf-8')
    r = run('extract', '--model', str(tmp_path/'clf'), '--input', str(tmp_path/'in.txt'), '--output', str(tmp_path/'o.jsonl'), '--no-progress')
    assert r.returncode == 2, r.stderr
    lines = [l for l in r.stderr.strip().splitlines() if l.startswith('toxitrace extract: error:')]
    assert len(lines) == 1 and f'{w}: cannot read the weights' in lines[0] and 'Traceback' not in r.stderr, r.stderr


# `toxitrace robustness` and the `--normalize` option of `extract` (issue 14)
def test_robustness_help_and_unknown_type():
    r = run_env('robustness', '--help')
    assert r.returncode == 0 and '--normalize' in r.stdout and '--types' in r.stdout, r.stderr
    line = one_error(run_env('robustness', '--model', 'nowhere', '--types', 'leet'), 'robustness')
    assert "unknown cloaking types ['leet']" in line and line.startswith('toxitrace robustness: error: --types'), line

def test_extract_and_serve_document_normalize():
    for cmd in ('extract', 'serve'):
        r = run_env(cmd, '--help')
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
        r = run_env('extract', '--model', str(tmp_path/'clf'), '--input', str(tmp_path/'in.txt'), '--output', str(out),
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
