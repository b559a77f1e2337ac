"""Every script in `benchmarks/` (speed and memory) and `experiments/` (quality measurements) runs end to end at a tiny size:
a subprocess as a user starts it, the tiny character BERT of `toxitrace.test_utils` saved as a classifier folder instead
of the small preset, a few texts of the real data, its JSON written to a temp folder and checked for its keys and row
counts. The scripts run two at a time (one torch thread each) in one module fixture; each test checks one script's
output. They read the data folder of `toxitrace.data.resolve_data_dir` (CI has it); without one the module is skipped
with a reason, visibly."""
import json, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from toxitrace.data import load_dataset, resolve_data_dir

ROOT = Path(__file__).resolve().parents[1]
DATA = resolve_data_dir()
pytestmark = pytest.mark.skipif(not (DATA/'cntp').is_dir(), reason=f'no data folder at {DATA} (set TOXITRACE_DATA)')



def _run(script, *args, timeout=300) -> dict:
    "Run `script` (relative to the repo root) with `args` in a subprocess from the repo root, one torch thread: returncode, output, seconds."
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'TOXITRACE_DATA': str(DATA)}
    t0 = time.time()
    r = subprocess.run([sys.executable, str(ROOT/script), *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return dict(rc=r.returncode, out=r.stdout[-3000:] + r.stderr[-3000:], seconds=round(time.time() - t0, 1))


def _setup(d: Path) -> Path:
    "In `d`: `clf` (a tiny classifier folder whose vocabulary covers some CNTP and COLD characters), `grid` (an experiment-shaped folder of it) and `tagger` (a tiny untrained span tagger stored under the fingerprint `tagger_for` expects)."
    from toxitrace.model import ToxicityClassifier, save_classifier
    from toxitrace.tagger import TAGGER_DEFAULTS, SpanTagger, save_tagger, tagger_fingerprint, tagger_training_data
    from toxitrace.test_utils import tiny_char_bert
    texts = load_dataset('cntp', 'toxic', DATA).text.tolist()[:300] + load_dataset('cold', 'test', DATA).text.tolist()[:300]
    enc, tok = tiny_char_bert(texts)
    save_classifier(d/'clf', ToxicityClassifier(enc).eval(), tok, max_length=32)
    g = d/'grid'/'seed0'                    # seed0/<model>/joint for score_cntp_part; ce_only/{warmup,joint}, toxitrace/joint for cntp_models
    for rel in ('ce_only/warmup', 'ce_only/joint', 'toxitrace/joint'):
        (g/rel).parent.mkdir(parents=True, exist_ok=True); (g/rel).symlink_to(d/'clf')
    (g/'toxitrace'/'config.json').write_text(json.dumps(dict(config=dict(variant='toxitrace', smoke=True))))
    import pandas as pd                     # run folders as toxicn_ceiling_analysis reads them: the run's config and its weak labels
    from toxitrace.cusa import save_annotations
    cn = load_dataset('cntp', 'toxic', DATA).head(3)
    ann = pd.DataFrame(dict(text=[*cn.text, '普通的一句话'], label=[1, 1, 1, 0], cue_spans=[[(0, 2)]] * 4,
                            spans=[*cn.spans.map(list), []], has_label=[True, True, False, True], prob_toxic=[.9, .8, .7, .1]))   # gold as labels, one toxic text unlabelled
    cfg = dict(dataset='toxicn', cntp_in_train=True, cntp_sample='natural', train_size=20, valid_size=10, test_size=10, span_eval_size=0)
    for m in ('ce_only', 'toxitrace'):
        save_annotations(ann, g/m/'cues_refined.jsonl'); (g/m/'metrics.json').write_text(json.dumps(dict(config=cfg)))
    from toxitrace.test_utils import tiny_bert_classifier
    m, t = tiny_bert_classifier(texts, id2label={0: 'non-toxic', 1: 'toxic'})   # a transformers classifier folder, as --init takes it
    m.save_pretrained(d/'hfclf'); t.save_pretrained(d/'hfclf')
    data, report = tagger_training_data(DATA)
    enc, tok = tiny_char_bert(texts)
    save_tagger(d/'tagger', SpanTagger(enc, TAGGER_DEFAULTS['kinds']), tok,
                dict(config=TAGGER_DEFAULTS, encoder='tiny', data=report, log=dict(steps=0, seconds=0, epoch_loss=[]),
                     fingerprint=tagger_fingerprint(data, TAGGER_DEFAULTS), date='-', toxitrace='-'))
    return g


def _commands(d: Path, g: Path) -> dict:
    "script -> its arguments at a tiny size, writing `d/<name>.json`."
    return {
        'benchmarks/extract_scale.py': ['--model', d/'clf', '--n-speed', 16, '--n-small', 8, '--n-large', 16, '--parts', 'speed,memory',
                                        '--batch-size', 4],   # shards: tests/test_extract_scale.py runs two real ranks and merges them
        'benchmarks/train_step.py': ['--model', d/'clf', '--batches', 1, '--batch-size', 4, '--max-length', 16, '--repeats', 1, '--threads', 1],
        'benchmarks/serve_load.py': ['--model', d/'clf', '--clients', 2, '--requests', 2, '--deadline', 120],
        'experiments/cntp_spans.py': ['--model', d/'clf', '--sample', 8, '--ig-sample', 4, '--ig-steps', 2, '--limit', 8, '--batch-size', 4],
        'experiments/weak_labels.py': ['--classifier', d/'clf', '--tagger', d/'tagger', '--limit', 30, '--cue-cache', d/'cues.jsonl'],
        'experiments/cntp_models.py': ['--run', g, '--sample', 8, '--faith-sample', 4, '--batch-size', 4],
        'benchmarks/extract_speed.py': ['--model', d/'clf', '--limit', 12, '--batch-size', 4, '--repeats', 1, '--threads', 1],
        'experiments/robustness.py': ['--model', d/'clf', '--n', 4, '--types', 'pinyin', 'emoji', '--settings', 'plain', 'norm', '--threads', 1],
        'experiments/score_cntp_part.py': [g.parent, '--seeds', 0, '--models', 'ce_only', 'toxitrace', '--part', 'dev', '--limit', 6, '--threads', 1],
        'experiments/table2_small.py': ['--warmup-dir', d/'clf', '--run-dir', d/'t2run', '--train-size', 20, '--n', 4, '--lime-samples', 4,
                                        '--ig-steps', 2, '--crf-epochs', 1],
        'benchmarks/llm_speed.py': ['--layers', 1, '--limit', 2, '--batch-sizes', 1, '--tasks', 'classify', '--threads', 1],
        'benchmarks/decoder_step.py': ['--layers', 1, '--hidden', 64, '--vocab', 300, '--batch-size', 2, '--seq-len', 12, '--reason-len', 8,
                                       '--steps', 1, '--warmup-steps', 0, '--lora', 4, '--device', 'cpu', '--threads', 1],
        'benchmarks/inference_paths.py': ['--model', d/'clf', '--limit', 12, '--batch-size', 4, '--repeats', 1, '--serve-requests', 1,
                                          '--threshold', 'median', '--threads', 1],
        'experiments/toxicn_ceiling_analysis.py': [g.parent, '--seeds', 0, '--models', 'warmup', 'ce_only', 'toxitrace', '--limit', 6, '--threads', 1],
        'experiments/long_texts.py': ['--model', d/'clf', '--n', 6, '--rules', 'truncate,fixed/16,sentence/16', '--threads', 1],
        'experiments/state_encoder.py': ['--encoder', d/'tagger', '--seeds', 0, 1, '--train-size', 8, '--epochs', 1, '--layers', 1,
                                         '--models', d/'state-models', '--threads', 1],
        'experiments/lora_lr.py': ['--init', d/'hfclf', '--lrs', 1e-3, 2e-3, '--seeds', 0, '--epochs', 2, '--train-size', 16, '--valid-size', 8,
                                   '--max-length', 16, '--bs', 8, '--threads', 1],
        'benchmarks/int8_recipes.py': ['--model', d/'clf', '--limit', 12, '--dev-limit', 12, '--time-texts', 8, '--repeats', 1, '--batch-size', 4,
                                       '--threads', 1],
    }


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "Every script run once (two at a time, longest first): `{name: (result JSON or None, run info)}`."
    d = tmp_path_factory.mktemp('scripts')
    cmds = _commands(d, _setup(d))
    name = lambda script: Path(script).stem
    with ThreadPoolExecutor(2) as pool:
        done = dict(zip(cmds, pool.map(lambda kv: _run(kv[0], *kv[1], '--out', d/f'{name(kv[0])}.json'), cmds.items())))
    for script, r in done.items(): print(f"{script}: {r['seconds']} s")
    return {name(s): (json.loads((d/f'{name(s)}.json').read_text()) if r['rc'] == 0 else None, r) for s, r in done.items()}


def result(runs, name) -> dict:
    res, r = runs[name]
    assert r['rc'] == 0, f"{name} failed:\n{r['out']}"
    return res


def test_extract_speed(runs):
    res = result(runs, 'extract_speed')
    assert res['config']['n_texts'] == 12 and {'b_over_a', 'b_over_c'} == set(res['ratios']) and len(res['results']) >= 4


def test_extract_scale(runs):
    res = result(runs, 'extract_scale')
    assert res['speed']['n_texts'] == 16 and set(res['memory']) == {'8', '16'} and 'shards' not in res
    assert set(res['goals']) == {'cli_ge_0_9_predict', 'rss_flat_within_100mb'}


def test_serve_load(runs):
    res = result(runs, 'serve_load')
    assert res['n_requests'] == 4 and res['wrong_or_lost'] == 0 and res['goals']['none_wrong_or_lost'] is True


def test_train_step(runs):
    res = result(runs, 'train_step')
    assert list(res['results']) == ['CE only', 'CE + GCLoss', 'CE + GCLoss + ARCL'] and res['config']['batches'] == 1


def test_decoder_step(runs):
    res = result(runs, 'decoder_step')
    rows = res['results']
    assert [r['variant'] for r in rows] == ['SFT', 'ToxiTrace'] and res['device'] == 'cpu' and res['toxitrace_over_sft'] > 0
    # r = 4 on q (64 -> 64), k, v (64 -> 8 heads x 4 = 32), o (64 -> 64) of one layer, plus the 64 x 2 head
    assert [r['trainable'] for r in rows] == [4 * (128 + 96 + 96 + 128) + 128] * 2


def test_robustness(runs):
    res = result(runs, 'robustness')
    assert [r['setting'] for r in res['results']] == ['plain', 'norm']
    assert all([t['type'] for t in r['table']] == ['clean', 'pinyin', 'emoji'] and r['table'][0]['n_toxic'] == 4 for r in res['results'])


def test_score_cntp_part(runs):
    res = result(runs, 'score_cntp_part')
    assert [(r['seed'], r['model'], r['n']) for r in res['rows']] == [(0, 'ce_only', 6), (0, 'toxitrace', 6)] and len(res['parts']) == 1


def test_cntp_models(runs):
    res = result(runs, 'cntp_models')
    assert res['n_texts'] == 8 and set(res['faithfulness']) == {'warmup', 'ce_only', 'toxitrace'}
    assert {r['model'] for r in res['rows']} == {'lexicon only', 'warmup BiCSE cues + lexicon refiner', 'warmup', 'ce_only', 'toxitrace'}


def test_cntp_spans(runs):
    res = result(runs, 'cntp_spans')
    m = res['models']['given']
    assert list(res['models']) == ['given'] and m['classification']['dataset'] == 'ToxiCN test (8)' and m['rows']
    assert {'ig', 'saliency', 'attention'} <= {r['attribution'] for r in m['rows']}


def test_weak_labels(runs):
    res = result(runs, 'weak_labels')
    assert len(res['rows']) == 8 * 3 and {r['part'] for r in res['rows']} == {'dev', 'test', 'all'}
    assert all(r['n'] == 30 for r in res['rows'] if r['part'] == 'all')
    assert len(res['learned_dev_grid']) == 6 * 3 * 3 * 3


def test_table2_small(runs):
    res = result(runs, 'table2_small')
    names = [r['model'] for r in res['table']]
    assert len(res['rows']) == 9 and any('CRF' in n for n in names) and any('LIME' in n for n in names), names


def test_llm_speed(runs):
    res = result(runs, 'llm_speed')
    assert res['rows'] and all(r['task'] == 'classify' and r['batch_size'] == 1 and r['texts'] == 2 for r in res['rows']), res['rows']


def test_inference_paths(runs):
    res = result(runs, 'inference_paths')
    assert [(r['share'], r['path']) for r in res['rows'][:4]] == [(0.05, p) for p in ('explain-all', 'classify-then-explain', 'classify-then-explain + int8', 'proba only')]
    assert len(res['rows']) == 16 and all(r['n_texts'] == 12 for r in res['rows'][:12]) and res['rows'][0]['over_explain_all'] == 1.0
    assert len(res['int8_curve']['rows']) == 6 and res['int8_curve']['rows'][-1]['layers'].startswith('default (--int8)') and [s['clients'] for s in res['serve']] == [1, 16] and set(res['goals']) == {
        'cte_10pct_ge_1_7', 'int8_10pct_ge_2_5', 'int8_agreement_ge_0_995'}


def test_int8_recipes(runs):
    res = result(runs, 'int8_recipes')
    names = [r['recipe'] for r in res['rows']]
    assert names[0] == 'fp32' and res['rows'][0]['label_agreement'] == 1.0 and res['n_test'] == 12 and res['n_dev'] == 12, names
    assert {'bf16', 'all linear, per tensor (naive)', 'q,k,v + ffn-in, per channel'} <= set(names) and any('+ fp32 within' in n for n in names)
    assert all('forward_speedup' in r for r in res['rows'] if r['margin'] == 0.0) and set(res['cascade_margin_chosen_on_dev']) <= set(names)


def test_long_texts(runs):
    res = result(runs, 'long_texts')
    assert list(res['rules']) == ['truncate', 'fixed/16', 'sentence/16'] and res['n_embedded'] == 6 and res['n_cold_long'] > 0
    assert res['rules']['truncate']['windows_per_post'] == 1.0 and res['rules']['fixed/16']['windows_per_post'] > 1
    assert {'end_recall', 'end_span_hit', 'emb_span_hit', 'cold_fpr'} <= set(res['rules']['sentence/16']['max'])


def test_toxicn_ceiling_analysis(runs):
    res = result(runs, 'toxicn_ceiling_analysis')
    rows = {r['model']: r for r in res['rows']}
    assert list(rows) == ['ce_only', 'toxitrace', 'warmup'] and rows['warmup']['labels'] is None
    lab = rows['toxitrace']['labels']         # the gold spans given as labels score 1 against the gold; the unlabelled one is left out
    assert (lab['toxic_texts'], lab['with_gold'], lab['labelled_with_gold'], lab['labels_overlap_f1'], lab['labels_char_f1']) == (3, 3, 2, 1.0, 1.0)
    t = rows['ce_only']['threshold']
    assert t['threshold'] in res['thresholds'] and rows['ce_only']['dev']['n'] == 6
    assert t['valid_at_best']['macro_f1'] >= t['valid_at_05']['macro_f1']      # chosen to maximise it (0.5 is a candidate)


def test_state_encoder(runs):
    res = result(runs, 'state_encoder')
    from toxitrace.state import STATE_COLS
    assert [r['seed'] for r in res['runs']] == [0, 1] and (res['train_posts'], res['dev_posts']) == (8, 800)
    assert list(res['mean']) == list(res['std']) == STATE_COLS and all(0 <= v <= 100 for v in res['mean'].values())
    assert all(abs(res['mean'][c] - (res['runs'][0]['row'][c] + res['runs'][1]['row'][c]) / 2) < 0.006 for c in STATE_COLS)


def test_lora_lr(runs):
    res = result(runs, 'lora_lr')
    assert [(p['seed'], p['lora_lr'], len(p['history'])) for p in res['probes']] == [(0, 1e-3, 2), (0, 2e-3, 2)]
    tr = res['probes'][0]['trainable']
    assert 0 < tr['trainable'] < tr['total']                        # adapters and head only, not the whole model
    assert res['summary']['0.002'] == dict(n=1, macro_f1=res['probes'][1]['history'][-1]['macro_f1'], std=0.0)
    assert res['config']['lrs'] == [1e-3, 2e-3] and res['settings']['valid_size'] == 8


def test_every_script_is_smoke_run():
    "A script added to benchmarks/ or experiments/ without a smoke run here fails this."
    scripts = sorted(str(p.relative_to(ROOT)) for f in ('benchmarks', 'experiments') for p in (ROOT/f).glob('*.py'))
    assert scripts == sorted(_commands(Path('d'), Path('g'))), scripts


def test_citation_version_is_the_package_version():
    import toxitrace
    assert f'version: "{toxitrace.__version__}"' in (ROOT/'CITATION.cff').read_text(encoding='utf-8').splitlines()


def test_decoder_step_gpu_command():
    "Without a GPU the full-size decoder benchmark trains nothing: it prints the one command a GPU user runs (the docstring's, `GPU_COMMAND`), exit 2, no JSON."
    r = _run('benchmarks/decoder_step.py', '--device', 'cpu', '--out', '/nonexistent/decoder_step.json', timeout=120)
    cmd = '.venv/bin/python benchmarks/decoder_step.py'
    assert r['rc'] == 2 and f'\n    {cmd}\n' in r['out'], r
    assert f"GPU_COMMAND = '{cmd}'" in (ROOT/'benchmarks/decoder_step.py').read_text(encoding='utf-8')
    assert not Path('/nonexistent/decoder_step.json').exists()
