"""`toxitrace serve --spans all --saliency flagged` as a user runs it: a real process on 127.0.0.1; a request that does not
say gets the server's choice, a request that says gets its own, and a choice that is not a mode is refused before the
model loads. Bounded: every wait has a deadline."""
import json, subprocess

import httpx, numpy as np, pytest

from toxitrace.detector import Detector
from toxitrace.model import ToxicityClassifier, save_classifier
from toxitrace.serve import run_serve
from toxitrace.test_utils import tiny_char_bert

from serve_process import serve_command, start_serve, stop

TEXTS = ['你真是个蠢货', '今天天气不错', '滚回你老家去吧', '谢谢你的帮助！', '这个人脑子有病', '我们一起去吃饭']


def test_serve_defaults_apply_when_a_request_does_not_say(tmp_path):
    enc, tok = tiny_char_bert(TEXTS)
    save_classifier(tmp_path/'clf', ToxicityClassifier(enc), tok, max_length=32)
    thr = float(np.median(Detector.from_pretrained(tmp_path/'clf').proba(TEXTS)))     # some texts flagged, some not
    (tmp_path/'clf'/'threshold.json').write_text(json.dumps(dict(threshold=thr)))
    det = Detector.from_pretrained(tmp_path/'clf')
    proc, url = start_serve(tmp_path, tmp_path/'clf', '--spans', 'all', '--saliency', 'flagged')
    try:
        res = httpx.post(url + '/v1/detect', json=dict(texts=TEXTS), timeout=60).json()['results']
        ref = det.predict(TEXTS, progress=False, all_spans=True, saliency='flagged')
        assert 0 < sum(r['label'] for r in res) < len(TEXTS) and [r['label'] for r in res] == [r['label'] for r in ref]
        assert [r['spans'] for r in res] == [r['spans'] for r in ref]
        assert any(r['spans'] for r in res if not r['label'])                        # --spans all: calm texts explained too
        assert [r['saliency'] is None for r in res] == [not r['label'] for r in res]  # --saliency flagged
        own = httpx.post(url + '/v1/detect', json=dict(texts=TEXTS, spans='flagged', saliency=False), timeout=60).json()['results']
        assert [r['spans'] for r in own] == [r['spans'] for r in det.predict(TEXTS, progress=False)] and not any('saliency' in r for r in own)
        every = httpx.post(url + '/v1/detect', json=dict(texts=TEXTS, spans=False, saliency='all'), timeout=60).json()['results']
        assert not any('spans' in r for r in every) and all(len(r['saliency']) == len(r['text']) for r in every)
    finally: stop(proc)


def test_serve_refuses_an_unknown_mode_before_loading(tmp_path):
    out = subprocess.run(serve_command(tmp_path, tmp_path/'missing', '--saliency', 'some'), capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--saliency: invalid choice: 'some'" in out.stderr
    with pytest.raises(ValueError, match='--spans every'): run_serve(tmp_path/'missing', spans='every')   # no model there: refused first
