"The exported `toxitrace.data.fetch` against a real HTTP server on 127.0.0.1 (the notebook tests the same on its own definitions)."
import hashlib, http.server, socket, threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from toxitrace.data import ChecksumError, DownloadError, fetch

BODY = 'toxitrace 数据\n'.encode() * 4000
SHA = hashlib.sha256(BODY).hexdigest()
ROUTES = {'/ok': (BODY, len(BODY)), '/cut': (BODY[:10000], len(BODY))}   # path -> (bytes sent, announced length)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path not in ROUTES: return self.send_error(404)
        body, length = ROUTES[self.path]
        self.send_response(200); self.send_header('Content-Length', str(length)); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass


@pytest.fixture(scope='module')
def base():
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    th = threading.Thread(target=srv.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True); th.start()
    yield f'http://127.0.0.1:{srv.server_address[1]}'
    srv.shutdown(); srv.server_close(); th.join()


def files(d): return sorted(str(p.relative_to(d)) for p in Path(d).rglob('*') if p.is_file())


def test_good_file(base, tmp_path):
    p = fetch('x/ok.txt', tmp_path, url=f'{base}/ok', sha256=SHA, progress=False)
    assert p.read_bytes() == BODY and files(tmp_path) == ['x/ok.txt']


def test_checksum_mismatch_leaves_nothing(base, tmp_path):
    with pytest.raises(ChecksumError, match=f'x/bad.txt downloaded from {base}/ok has sha256 {SHA}, expected {"0" * 64}'):
        fetch('x/bad.txt', tmp_path, url=f'{base}/ok', sha256='0' * 64, progress=False)
    assert files(tmp_path) == []


def test_interrupted_leaves_nothing(base, tmp_path):
    with pytest.raises(DownloadError, match=f'got 10000 of {len(BODY)} bytes'):
        fetch('x/cut.txt', tmp_path, url=f'{base}/cut', sha256=SHA, progress=False)
    assert files(tmp_path) == []


def test_connection_refused_names_file_url_and_remedy(tmp_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    url = f'http://127.0.0.1:{port}/train.csv'
    with pytest.raises(DownloadError) as e:
        fetch('cold/train.csv', tmp_path, url=url, progress=False)
    assert all(part in str(e.value) for part in ['cold/train.csv', url, 'TOXITRACE_DATA'])
    assert files(tmp_path) == []
