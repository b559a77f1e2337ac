"""The page at `/` of `toxitrace serve` as a person meets it: a real `serve` process on 127.0.0.1 with a tiny model trained
on the toy task, opened in headless Chromium at `/?text=...` (the page submits the text itself), its DOM dumped after
the scripts ran: the spans the API returns for that text are highlighted (`<mark class="span">`) at the same characters,
the label and P(toxic) are shown, and the page asks nothing from outside 127.0.0.1 (no CDN: it works offline).
A screenshot is taken too; `TOXITRACE_SCREENSHOTS=DIR` keeps it (the serve chapter shows `nbs/images/serve_page.png`,
taken this way). Chromium as in `test_docs_site.py`: skipped without it, except under CI, where it fails."""
import html, os, re, shutil, subprocess, urllib.parse
from pathlib import Path

import httpx, pytest, torch

from toxitrace.model import ToxicityClassifier, save_classifier
from toxitrace.test_utils import tiny_char_bert

from serve_process import start_serve, stop

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
IN_CI = os.environ.get('CI', '').lower() not in ('', '0', 'false', 'no')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync']
TOY = ['你真是个蠢货', '今天天气不错', '滚回你老家去吧', '谢谢你的帮助！', '这个人脑子有病', '我们一起去吃饭']
LINES = ['今天天气不错', '你真是个蠢货，滚回你老家去吧']                           # two texts, one a line, as a person pastes them
TEXT = '\n'.join(LINES)

def toy_model(folder: Path):
    "The tiny character BERT trained 30 full-batch steps on the toy task, saved to `folder` with max_length 32."
    enc, tok = tiny_char_bert(TOY + LINES)
    torch.manual_seed(0)
    model = ToxicityClassifier(enc).train()
    b = tok(TOY, padding=True, return_tensors='pt')
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(b['input_ids'], b['attention_mask']), torch.tensor([1, 0, 1, 0, 1, 0]))
        opt.zero_grad(); loss.backward(); opt.step()
    save_classifier(folder, model.eval(), tok, max_length=32)

def test_page_highlights_the_spans_in_chromium(tmp_path):
    if CHROMIUM is None:
        msg = 'chromium is not installed (Debian: apt-get install -y chromium fonts-noto-cjk; .ci/run does it)'
        if IN_CI: pytest.fail(msg + ': under CI the page must be tested')
        pytest.skip(msg)
    toy_model(tmp_path/'clf')
    proc, base = start_serve(tmp_path, tmp_path/'clf')
    try:
        calm, want = httpx.post(base + '/v1/detect', json=dict(texts=LINES, spans=True), timeout=60).json()['results']
        assert (calm['label'], want['label']) == (0, 1) and want['spans'], (calm, want)   # the toy model flags one: something to show
        page = httpx.get(base + '/', timeout=10).text
        assert not re.search(r'''(src|href)=["']?(https?:)?//''', page)          # every asset is the page's own: offline
        url = f'{base}/?text={urllib.parse.quote(TEXT)}'
        run = [CHROMIUM, *FLAGS, f'--user-data-dir={tmp_path/"profile"}', '--virtual-time-budget=10000']
        dom = subprocess.run(run + ['--dump-dom', url], capture_output=True, text=True, timeout=120)
        assert dom.returncode == 0 and dom.stdout.strip(), dom.stderr[-2000:]
        marks = re.findall(r'<mark class="span" data-start="(\d+)" data-stop="(\d+)">(.*?)</mark>', dom.stdout)
        got = [(int(a), int(b), html.unescape(re.sub(r'<[^>]*>', '', inner))) for a, b, inner in marks]
        assert got == [(s['start'], s['stop'], s['text']) for s in want['spans']], (got, want['spans'])
        assert all(LINES[1][a:b] == t for a, b, t in got)
        for r in (calm, want): assert f">{r['label_name']}</span> P(toxic) = {r['prob_toxic']:.3f}" in dom.stdout
        assert dom.stdout.count('class="result') == 2
        assert '<span id="status" class="note"></span>' in dom.stdout           # no error shown, nothing still scoring
        png = tmp_path/'serve_page.png'
        shot = subprocess.run(run + [f'--screenshot={png}', '--window-size=900,520', url], capture_output=True, text=True, timeout=120)
        assert shot.returncode == 0 and png.stat().st_size > 5000, shot.stderr[-2000:]
        if keep := os.environ.get('TOXITRACE_SCREENSHOTS'):
            Path(keep).mkdir(parents=True, exist_ok=True); shutil.copy(png, Path(keep)/png.name)
    finally: stop(proc)
