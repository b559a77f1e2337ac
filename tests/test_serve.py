"""`toxitrace serve` as a user runs it: a real process on 127.0.0.1, asked with curl (or httpx), stopped with SIGTERM while a
request is in flight, which still gets its answer before the process exits. Bounded: every wait has a deadline."""
import json, re, shlex, shutil, signal, subprocess, threading, time
from pathlib import Path

import httpx

from toxitrace.model import ToxicityClassifier, save_classifier
from toxitrace.test_utils import tiny_char_bert

from serve_process import start_serve, stop

TEXTS = ['你真是个蠢货', '今天天气不错', '滚回你老家去吧']


def test_serve_answers_curl_and_finishes_in_flight_requests_on_sigterm(tmp_path):
    enc, tok = tiny_char_bert(TEXTS)
    save_classifier(tmp_path/'clf', ToxicityClassifier(enc), tok, max_length=32)
    (tmp_path/'clf'/'threshold.json').write_text(json.dumps(dict(threshold=0.25)))
    proc, url = start_serve(tmp_path, tmp_path/'clf', '--max-wait-ms', '2000')
    try:
        health = httpx.get(url + '/healthz', timeout=5).json()
        assert health['status'] == 'ok' and health['threshold'] == 0.25          # the stored threshold is used
        body = json.dumps(dict(texts=TEXTS, spans=True), ensure_ascii=False)
        if shutil.which('curl'):
            out = subprocess.run(['curl', '-s', '-X', 'POST', url + '/v1/detect', '-H', 'content-type: application/json', '-d', body],
                                 capture_output=True, text=True, timeout=60).stdout
        else: out = httpx.post(url + '/v1/detect', content=body.encode(), headers={'content-type': 'application/json'}, timeout=60).text
        res = json.loads(out)['results']
        assert [r['text'] for r in res] == TEXTS
        assert all(r['label'] == int(r['prob_toxic'] >= 0.25) for r in res)
        for r in res:
            assert {'start', 'stop', 'text'} >= set().union(*map(set, r['spans'])) and all(r['text'][s['start']:s['stop']] == s['text'] for s in r['spans'])
        answer = {}
        t = threading.Thread(target=lambda: answer.update(r=httpx.post(url + '/v1/detect', json=dict(texts=TEXTS[:1]), timeout=60)))
        t.start()
        time.sleep(0.7)                                   # the request now waits (max-wait-ms 2000) for its batch
        proc.send_signal(signal.SIGTERM)
        t.join(60)
        assert answer['r'].status_code == 200 and answer['r'].json()['results'][0]['text'] == TEXTS[0]
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)   # uvicorn re-raises the signal once it has shut down
    finally: stop(proc)


def _readme_curl() -> str:
    "The curl command line of README.md's serve example (the one that posts to /v1/detect)."
    readme = (Path(__file__).resolve().parents[1]/'README.md').read_text(encoding='utf-8')
    cmds = re.findall(r'`(curl [^`]*?/v1/detect[^`]*)`', readme)
    assert len(cmds) == 1, cmds
    return cmds[0]


def test_readme_curl_example_answers_200(tmp_path):
    "README's curl line, run as written (only host:port changed to the test server's): `curl -d` sends a form content type, the service reads the body as JSON."
    cmd = _readme_curl()
    assert ' -d ' in cmd and 'content-type' not in cmd.lower()          # the case this test is for: no JSON content type given
    enc, tok = tiny_char_bert(TEXTS)
    save_classifier(tmp_path/'clf', ToxicityClassifier(enc), tok, max_length=32)
    proc, url = start_serve(tmp_path, tmp_path/'clf')
    try:
        args = [a.replace('localhost:8000', url.removeprefix('http://')) for a in shlex.split(cmd)]
        body = args[args.index('-d') + 1].encode()
        if shutil.which('curl'):
            out = subprocess.run([*args, '-w', '\n%{http_code}'], capture_output=True, text=True, timeout=60).stdout
            text, status = out.rsplit('\n', 1)
        else:                                                             # what curl -d sends: POST, form content type, the bytes as given
            r = httpx.post(url + '/v1/detect', content=body, timeout=60,
                           headers={'content-type': 'application/x-www-form-urlencoded', 'accept': '*/*'})
            text, status = r.text, str(r.status_code)
        assert status == '200', text
        res = json.loads(text)['results']
        assert [r['text'] for r in res] == json.loads(body)['texts']
        assert all({'text', 'label', 'label_name', 'prob_toxic', 'spans', 'truncated', 'flags'} == set(r) for r in res)
        assert all(0 <= r['prob_toxic'] <= 1 and r['label'] in (0, 1) for r in res)
    finally: stop(proc)
