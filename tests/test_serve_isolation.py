"""`toxitrace serve` against a careless or hostile client, as real processes on 127.0.0.1 (issue #27): a poisoned text
fails no one else's request (a bounded load test), bad options are refused at start-up, a trickled body gets 408,
requests still queued after the SIGTERM grace get 503 + Retry-After, a bearer token and the Host check guard the API,
and /docs loads nothing from outside. Every wait has a deadline."""
import json, os, re, signal, socket, subprocess, threading, time

import httpx
import pytest

from toxitrace.model import ToxicityClassifier, save_classifier
from toxitrace.test_utils import tiny_char_bert

from serve_process import CLI, free_port as _free_port, serve_command, start_serve, stop as _stop

TEXTS = ['你真是个蠢货', '今天天气不错', '滚回你老家去吧', '谢谢你的帮助！', '这个人脑子有病', '我们一起去吃饭']


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp('serve')
    enc, tok = tiny_char_bert(TEXTS + ['0123456789abc'])
    save_classifier(d/'clf', ToxicityClassifier(enc), tok, max_length=32)
    (d/'cli.py').write_text(CLI)
    return d


def _cmd(d, *args): return serve_command(d, d/'clf', *args)


def _serve(d, *args, env=None):
    "A started `serve` process and its URL; 400 counts as started (a Host it does not accept)."
    return start_serve(d, d/'clf', *args, env=env, ready=(200, 400))


def _post(url, texts, timeout=30, headers=None):
    "POST /v1/detect with `texts` as ASCII JSON: a lone surrogate goes as the valid escape \\ud800, as a JSON client sends it."
    return httpx.post(url + '/v1/detect', content=json.dumps(dict(texts=texts)).encode(), timeout=timeout,
                      headers={'content-type': 'application/json', **(headers or {})})


def test_poisoned_client_fails_no_other_request(model):
    "Load test: 8 normal clients and one sending lone surrogates three times a second, 8 s, micro-batched together."
    proc, url = _serve(model, '--max-wait-ms', '20')
    normal, poisoned, stop = [], [], time.time() + 8
    def client(i):
        with httpx.Client(timeout=30) as c:
            while time.time() < stop:
                texts = [f'{TEXTS[(i + k) % 6]}{i}' for k in range(1 + i % 3)]
                try: r = c.post(url + '/v1/detect', json=dict(texts=texts)); normal.append((texts, r.status_code, r.json()))
                except (httpx.TransportError, ValueError) as e: normal.append((texts, type(e).__name__, None))
    def poison():
        with httpx.Client(timeout=30) as c:
            while time.time() < stop:
                body = json.dumps(dict(texts=['a\ud800', TEXTS[0], '\udfff' * 3])).encode()
                try: r = c.post(url + '/v1/detect', content=body, headers={'content-type': 'application/json'}); poisoned.append((r.status_code, r.json()))
                except (httpx.TransportError, ValueError) as e: poisoned.append((type(e).__name__, None))
                time.sleep(1 / 3)
    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)] + [threading.Thread(target=poison)]
        for t in threads: t.start()
        for t in threads: t.join(60)
        assert len(normal) > 50 and len(poisoned) >= 10, (len(normal), len(poisoned))
        bad = [(t, s) for t, s, _ in normal if s != 200]
        assert not bad, f'{len(bad)} of {len(normal)} normal requests failed: {bad[:3]}'
        for texts, _, body in normal: assert [r['text'] for r in body['results']] == texts and all(r['flags'] == [] for r in body['results'])
        assert all(s == 200 for s, _ in poisoned), poisoned[:3]
        for _, body in poisoned:                                          # replaced one for one, flagged, scored
            assert [(r['text'], r['flags']) for r in body['results']] == [('a\ufffd', ['replaced']), (TEXTS[0], []), ('\ufffd' * 3, ['replaced'])]
    finally: log = _stop(proc)
    assert '\ufffd' not in log and TEXTS[0] not in log                       # still no texts in the log


@pytest.mark.parametrize('args, says', [(['--batch-size', '0'], '--batch-size 0'), (['--max-texts', '-1'], '--max-texts -1'),
                                        (['--max-batch', '0', '--max-chars', '0'], '--max-batch 0, --max-chars 0'),
                                        (['--host', '0.0.0.0'], '--allowed-hosts'), (['--body-timeout-s', '0'], '--body-timeout-s 0')])
def test_bad_options_are_refused_at_start_up(model, args, says):
    t0 = time.time()
    r = subprocess.run(_cmd(model, '--port', str(_free_port()), *args), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, (r.returncode, r.stderr)
    assert 'Uvicorn running' not in r.stdout + r.stderr and time.time() - t0 < 60


def test_trickled_body_gets_408_and_the_connection_is_closed(model):
    proc, url = _serve(model, '--body-timeout-s', '1')
    try:
        port = int(url.rsplit(':', 1)[1])
        socks = []
        for _ in range(5):                                                 # a Content-Length larger than the body sent
            s = socket.create_connection(('127.0.0.1', port), timeout=10)
            s.sendall(b'POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"texts": [')
            socks.append(s)
        t0 = time.time()
        for s in socks:
            data = b''
            while True:
                chunk = s.recv(4096)
                if not chunk: break                                       # closed by the server
                data += chunk
            assert data.startswith(b'HTTP/1.1 408'), data[:200]
            s.close()
        assert time.time() - t0 < 10
        assert _post(url, TEXTS[:1]).status_code == 200                   # the service itself is fine
    finally: _stop(proc)


def test_requests_queued_after_the_grace_get_503_with_retry_after(model):
    proc, url = _serve(model, '--grace-s', '0', '--batch-size', '1', '--max-batch', '64')
    answers, texts = [], [f'{TEXTS[i % 6]}{i}' * 3 for i in range(64)]     # 64 texts one by one: a slow request
    def ask():
        try: r = _post(url, texts, timeout=60); answers.append((r.status_code, r.headers.get('retry-after'), r.json()))
        except (httpx.TransportError, ValueError) as e: answers.append((type(e).__name__, None, None))
    try:
        threads = [threading.Thread(target=ask) for _ in range(6)]
        for t in threads: t.start()
        deadline = time.time() + 60
        while httpx.get(url + '/healthz', timeout=5).json()['queued'] < 2 and time.time() < deadline: time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        for t in threads: t.join(90)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    finally: _stop(proc)
    codes = sorted(a[0] for a in answers)
    assert set(codes) <= {200, 503} and 503 in codes and 200 in codes, codes     # no 500, no reset connection
    for status, retry, body in answers:
        if status == 503: assert retry == '5' and 'shutting down' in body['detail']
        else: assert [r['text'] for r in body['results']] == texts


def test_token_hosts_cors_and_offline_docs(model):
    token = 'tok-' + os.urandom(8).hex()
    proc, url = _serve(model, '--allowed-hosts', 'mod.example.org', env={'TOXITRACE_API_TOKEN': token})
    try:
        with httpx.Client(base_url=url, timeout=30, headers={'host': 'mod.example.org'}) as c:
            assert c.post('/v1/detect', json=dict(texts=TEXTS[:1])).status_code == 401
            r = c.post('/v1/detect', json=dict(texts=TEXTS[:1]), headers={'authorization': f'Bearer {token}x'})
            assert r.status_code == 401 and r.headers['www-authenticate'] == 'Bearer'
            ok = c.post('/v1/detect', json=dict(texts=TEXTS[:1]), headers={'authorization': f'Bearer {token}', 'origin': 'https://evil.example'})
            assert ok.status_code == 200 and 'access-control-allow-origin' not in ok.headers        # CORS off
            assert c.get('/healthz').status_code == 200
            page = c.get('/docs').text
            assets = re.findall(r'(?:src|href)="([^"]+)"', page) + re.findall(r"url: '([^']+)'", page)
            assert len(assets) >= 3 and not [a for a in assets if '//' in a], assets                # nothing from a CDN
            assert all(c.get(a).status_code == 200 for a in assets)
        assert httpx.get(url + '/healthz', timeout=10).status_code == 400      # Host 127.0.0.1 is not in --allowed-hosts
        assert httpx.get(url + '/healthz', timeout=10, headers={'host': 'rebind.attacker.example'}).status_code == 400
    finally: log = _stop(proc)
    assert token not in log


def test_cors_when_configured(model):
    proc, url = _serve(model, '--cors-origins', 'https://app.example.org')
    try:
        pre = httpx.options(url + '/v1/detect', timeout=10, headers={'origin': 'https://app.example.org', 'access-control-request-method': 'POST'})
        assert pre.headers.get('access-control-allow-origin') == 'https://app.example.org'
        other = httpx.options(url + '/v1/detect', timeout=10, headers={'origin': 'https://evil.example', 'access-control-request-method': 'POST'})
        assert other.headers.get('access-control-allow-origin') is None
    finally: _stop(proc)
