"""`toxitrace serve` as a user runs it: a real process on 127.0.0.1, asked with curl (or httpx), stopped with SIGTERM while a
request is in flight, which still gets its answer before the process exits. Bounded: every wait has a deadline."""
import json, os, shutil, signal, socket, subprocess, sys, threading, time

import httpx

from toxitrace.model import ToxicityClassifier, save_classifier
from toxitrace.test_utils import tiny_char_bert

CLI = 'import sys; from toxitrace.cli import main; sys.exit(main())\n'
TEXTS = ['你真是个蠢货', '今天天气不错', '滚回你老家去吧']


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def test_serve_answers_curl_and_finishes_in_flight_requests_on_sigterm(tmp_path):
    enc, tok = tiny_char_bert(TEXTS)
    save_classifier(tmp_path/'clf', ToxicityClassifier(enc), tok, max_length=32)
    (tmp_path/'clf'/'threshold.json').write_text(json.dumps(dict(threshold=0.25)))
    (tmp_path/'cli.py').write_text(CLI)
    port = _free_port()
    url = f'http://127.0.0.1:{port}'
    proc = subprocess.Popen([sys.executable, str(tmp_path/'cli.py'), 'serve', '--model', str(tmp_path/'clf'), '--port', str(port),
                             '--max-wait-ms', '2000'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(url + '/healthz', timeout=1).status_code == 200: break
            except httpx.TransportError: time.sleep(0.2)
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
    finally:
        if proc.poll() is None: proc.kill(); proc.wait(timeout=30)
