"""The `Detector` is the one thing that scores a model: a classifier whose toxic class is 0 (`{0: 'offensive', 1: 'neutral'}`,
as some hub models are) is scored on class 0 by `calibrate`, `extract`, `serve` and `evaluate` alike. Each check would fail
under the old rules (`probs[:, 1]`, `argmax` as the label): the model is trained so that class 0 carries the toxic texts."""
import json

import httpx
import numpy as np
import pandas as pd
import pytest
import torch

from toxitrace.calibrate import calibrate, choose_threshold
from toxitrace.detector import Detector
from toxitrace.evaluation import classification_scores, detection_scores, evaluate_classifier
from toxitrace.extract import run_extract
from toxitrace.model import load_classifier
from toxitrace.serve import background_server, create_app
from toxitrace.test_utils import env, tiny_bert_classifier

TEXTS = ['你真是个蠢货', '今天天气不错', '滚回你老家去吧', '谢谢你的帮助！', '这个人脑子有病', '我们一起去吃饭', '你是个废物', '明天见']
TOXIC = [1, 0, 1, 0, 1, 0, 1, 0]                     # 1 = toxic, as the data sets label it


@pytest.fixture(scope='module')
def clf(tmp_path_factory):
    "A tiny transformers BERT whose class 0 is 'offensive', trained a little so that P(class 0) separates the texts; (folder, P(offensive))."
    d = tmp_path_factory.mktemp('offensive-first')
    m, tok = tiny_bert_classifier(TEXTS, id2label={0: 'offensive', 1: 'neutral'}, seed=0)
    b = tok(TEXTS, padding=True, return_tensors='pt')
    m.train()
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    for _ in range(10):                                # class index 0 for the toxic texts
        loss = torch.nn.functional.cross_entropy(m(**b).logits, torch.tensor([1 - y for y in TOXIC]))
        opt.zero_grad(); loss.backward(); opt.step()
    m.eval()
    with torch.no_grad(): p0 = torch.softmax(m(**b).logits, -1)[:, 0].numpy()
    assert (p0[np.array(TOXIC) == 1] > 0.5).all() and (p0[np.array(TOXIC) == 0] < 0.5).all(), p0
    m.save_pretrained(d/'clf'); tok.save_pretrained(d/'clf')
    return d, p0


def test_detector_reads_class_0(clf):
    d, p0 = clf
    det = Detector.from_pretrained(d/'clf')
    assert det.toxic_class == 0 and det.label_names == {1: 'offensive', 0: 'neutral'}
    np.testing.assert_allclose(det.proba(TEXTS), p0, atol=1e-5)


def test_calibrate_threshold_is_on_p_offensive(clf):
    d, p0 = clf
    rows = [(f'{t}{k}', y) for k in range(2) for t, y in zip(TEXTS, TOXIC)]
    (d/'data'/'cold').mkdir(parents=True, exist_ok=True)
    (d/'data'/'cold'/'dev.csv').write_text(',split,topic,label,TEXT\n' + ''.join(f'{i},dev,race,{l},{t}\n' for i, (t, l) in enumerate(rows)),
                                           encoding='utf-8')
    with env(TOXITRACE_VERIFY='off'):                  # a toy COLD dev file, not the pinned one
        rec = calibrate(d/'clf', 'cold', 'dev', 'recall=0.5', data_dir=d/'data', device='cpu', min_per_class=8)   # a toy: eight of each
    m, tok, _ = load_classifier(d/'clf')
    b = tok([t for t, _ in rows], padding=True, return_tensors='pt')
    with torch.no_grad(): probs = torch.softmax(m(b['input_ids'], b['attention_mask']), -1).numpy()
    y = np.array([l for _, l in rows])
    want = choose_threshold(y, probs[:, 0], 'recall=0.5')
    assert rec['toxic_class'] == 'offensive'
    assert abs(rec['threshold'] - want['threshold']) < 1e-5 and (rec['recall'], rec['precision']) == (want['recall'], want['precision'])
    assert abs(rec['threshold'] - choose_threshold(y, probs[:, 1], 'recall=0.5')['threshold']) > 0.01   # class 1 would give another
    stored = json.loads((d/'clf'/'threshold.json').read_text(encoding='utf-8'))
    assert stored['threshold'] == rec['threshold'] and Detector.from_pretrained(d/'clf').threshold == rec['threshold']


def test_extract_reports_p_offensive(clf, tmp_path):
    d, p0 = clf
    (tmp_path/'in.txt').write_text('\n'.join(TEXTS) + '\n', encoding='utf-8')
    s = run_extract(d/'clf', tmp_path/'in.txt', tmp_path/'out.jsonl', progress=False, device='cpu')
    recs = [json.loads(l) for l in (tmp_path/'out.jsonl').read_text(encoding='utf-8').splitlines()]
    np.testing.assert_allclose([r['prob_toxic'] for r in recs], p0, atol=1e-5)
    assert [r['label'] for r in recs] == [int(r['prob_toxic'] >= s['threshold']) for r in recs]
    assert [r['label_name'] for r in recs] == ['offensive' if r['label'] else 'neutral' for r in recs]
    assert s['n_toxic'] == sum(r['label'] for r in recs) > 0


def test_serve_answers_p_offensive(clf):
    d, p0 = clf
    det = Detector.from_pretrained(d/'clf')
    with background_server(create_app(det, max_wait_ms=5)) as url:
        res = httpx.post(url + '/v1/detect', json=dict(texts=TEXTS), timeout=60).json()['results']
    np.testing.assert_allclose([r['prob_toxic'] for r in res], p0, atol=1e-5)
    assert [r['label'] for r in res] == [int(r['prob_toxic'] >= det.threshold) for r in res]
    assert {r['label_name'] for r in res if r['label']} <= {'offensive'} and any(r['label'] for r in res)


def test_evaluate_scores_p_offensive(clf):
    d, p0 = clf
    m, tok, _ = load_classifier(d/'clf')
    ev = evaluate_classifier(m, tok, dict(test=pd.DataFrame(dict(text=TEXTS, label=TOXIC))), 32)
    want = dict(n=len(TEXTS), **classification_scores(TOXIC, (p0 >= 0.5).astype(int)), **detection_scores(TOXIC, p0))
    assert ev['test'].keys() == want.keys()
    assert all(abs(ev['test'][k] - want[k]) < 1e-9 for k in want), (ev['test'], want)
    assert ev['test']['acc'] == 1.0 and classification_scores(TOXIC, 1 - (p0 >= 0.5))['acc'] == 0.0   # the argmax rule: all wrong
