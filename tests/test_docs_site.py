"""The docs site as a reader meets it: `scripts/build_docs.py` builds it, `http.server` serves it on
127.0.0.1, and headless Chromium opens the home page, a chapter and an API page, dumps their DOM and
takes screenshots. Fails when a page is missing, shows an error, or renders blank.

Chromium is Debian's `chromium` package (`.ci/run` installs it). Without it the test is skipped,
except under CI, where it fails. `TOXITRACE_SCREENSHOTS=DIR` keeps the screenshots in DIR."""
import functools, html, http.server, io, os, re, shutil, subprocess, sys, threading, urllib.error, urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

root = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
IN_CI = os.environ.get('CI', '').lower() not in ('', '0', 'false', 'no')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync']
# What a page that failed shows: a Python traceback in an output, mkdocstrings failing to read a module,
# the theme's 404 page, TeX that was not turned into MathML, a stored error output.
ERROR_MARKERS = ['Traceback (most recent call last)', 'could not collect', 'Could not collect', '404 - Not found',
                 'class="arithmatex"', 'nb-error', 'ModuleNotFoundError', 'Error in notebook']

def chapter_pages() -> dict[str, str]:
    "Notebook stem -> page name, as nbdev names pages (06_bicse -> bicse)."
    return {p.stem: re.sub(r'^\d+[a-zA-Z0-9]*_', '', p.stem.lower()) for p in sorted((root/'nbs').glob('*.ipynb'))
            if p.stem != 'index'}

def modules() -> list[str]: return sorted(p.stem for p in (root/'toxitrace').glob('*.py') if not p.stem.startswith('_'))

@pytest.fixture(scope='module')
def chromium():
    if CHROMIUM is None:
        msg = 'chromium is not installed (Debian: apt-get install -y chromium fonts-noto-cjk; .ci/run does it)'
        if IN_CI: pytest.fail(msg + ': under CI the docs site must be tested')
        pytest.skip(msg)
    return CHROMIUM

@pytest.fixture(scope='module')
def site(tmp_path_factory, chromium):
    "The site, built from this working tree into a temporary folder, as `make docs` builds _site."
    out = tmp_path_factory.mktemp('docs')
    r = subprocess.run([sys.executable, str(root/'scripts'/'build_docs.py'), '--pages-dir', str(out/'pages'),
                        '--site-dir', str(out/'site')], cwd=root, capture_output=True, text=True, timeout=600)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-4000:]
    assert not re.search(r'^(WARNING|ERROR)', log, re.M), log[-4000:]  # --strict already fails on them; say which
    return out/'site'

@pytest.fixture(scope='module')
def server(site):
    "The site served by http.server on 127.0.0.1, on a free port, in a thread."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(site)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}/'
    httpd.shutdown(); httpd.server_close()

def get(url) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r: return r.status, r.read()
    except urllib.error.HTTPError as e: return e.code, b''

def browse(url, tmp: Path, name: str) -> tuple[str, Path]:
    "Open `url` in headless Chromium twice: its DOM after the scripts ran, and a 1280x900 screenshot."
    prof = tmp/f'profile-{name}'
    base = [CHROMIUM, *FLAGS, f'--user-data-dir={prof}']
    dom = subprocess.run(base + ['--virtual-time-budget=4000', '--dump-dom', url],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0 and dom.stdout.strip(), dom.stderr[-2000:]
    png = tmp/f'{name}.png'
    shot = subprocess.run(base + [f'--screenshot={png}', '--window-size=1280,900', url],
                          capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0 and png.exists(), shot.stderr[-2000:]
    if keep := os.environ.get('TOXITRACE_SCREENSHOTS'):
        Path(keep).mkdir(parents=True, exist_ok=True); shutil.copy(png, Path(keep)/png.name)
    return dom.stdout, png

def text_of(dom: str) -> str:
    "The visible text of a DOM, roughly: no scripts, styles or tags."
    dom = re.sub(r'<(script|style)\b.*?</\1>', ' ', dom, flags=re.S)
    return re.sub(r'\s+', ' ', html.unescape(re.sub(r'<[^>]+>', ' ', dom)))

def check_page(dom: str, title: str):
    assert f'<title>{title}' in dom or re.search(rf'<title>[^<]*{re.escape(title)}', dom), re.findall(r'<title>.*?</title>', dom)
    for m in ERROR_MARKERS: assert m not in dom, m
    assert not re.search(r'\b404\b', text_of(dom))

def check_screenshot(png: Path):
    "Not blank: the size of a real page, and enough ink, spread over the window."
    assert png.stat().st_size > 20_000, png.stat().st_size
    im = Image.open(io.BytesIO(png.read_bytes())).convert('L')
    assert im.size == (1280, 900)
    a = np.asarray(im, dtype=float)[60:]  # below the header bar, which alone would pass for a page
    content = a[:, 280:990]  # the article column between the sidebars
    assert a.std() > 15 and content.std() > 15, (a.std(), content.std())
    assert (a < 200).mean() > 0.02, (a < 200).mean()  # text, not a white page
    assert (content < 200).mean() > 0.02, (content < 200).mean()

def nav_links(dom: str) -> set[str]:
    "The pages the site navigation links to (the sidebar's, not the page's table of contents)."
    nav = dom[dom.index('<nav class="md-nav md-nav--primary"'):]
    nav = nav[:nav.index('md-sidebar--secondary')]
    return set(re.findall(r'<a href="([^"#]+)"[^>]*class="md-nav__link', nav))

def test_pages_answer(server, site):
    pages = ['index.html', 'search/search_index.json', 'assets/extra.css'] + \
            [f'{p}.html' for p in chapter_pages().values()] + [f'{p}.html.md' for p in chapter_pages().values()] + \
            [f'api/{m}.html' for m in modules()]
    for p in pages:
        status, body = get(server + p)
        assert status == 200, p
        assert body.strip(), p
        if p.endswith('.html'):
            for m in ERROR_MARKERS: assert m.encode() not in body, (p, m)
    assert get(server + 'no-such-page.html')[0] == 404  # the server does say when a page is missing
    index = get(server + 'search/search_index.json')[1].decode()
    for word in ['BiCSE', 'saliency', 'InfoNCE', 'make test']: assert word in index, word
    for p in chapter_pages().values(): assert f'"location":"{p}.html' in index, p

def test_home_page(server, tmp_path):
    dom, png = browse(server + 'index.html', tmp_path, 'home')
    check_page(dom, 'toxitrace')
    assert re.search(r'<h1[^>]*>\s*toxitrace', dom)
    text = text_of(dom)
    headings = re.findall(r'^## (.+)$', (root/'README.md').read_text(encoding='utf-8'), re.M)
    assert len(headings) >= 3, headings
    for s in [*headings, 'make demo']: assert s in text, s  # the README's sections
    links = nav_links(dom)
    for stem, page in chapter_pages().items(): assert f'{page}.html' in links, f'{stem} is not in the navigation'
    for m in modules(): assert f'api/{m}.html' in links, f'API page of {m} is not in the navigation'
    assert '<math' in dom  # the README's saliency formula, as MathML
    check_screenshot(png)

def test_chapter_page(server, tmp_path):
    dom, png = browse(server + 'bicse.html', tmp_path, 'chapter-bicse')
    check_page(dom, 'BiCSE')
    assert re.search(r'<h1[^>]*>\s*BiCSE: bidirectional', dom)
    imgs = re.findall(r'<img[^>]+src="([^"]+\.png)"', dom)
    figs = [s for s in imgs if 'figures/' in s]
    assert figs, imgs
    status, body = get(server + figs[0])
    assert status == 200 and body[:8] == b'\x89PNG\r\n\x1a\n' and len(body) > 10_000
    assert re.search(r'<div class="showdoc"[^>]*>.*?id="bicse"', dom, re.S)  # nbdev's show_doc for bicse, at nbdev's anchor
    text = text_of(dom)
    assert re.search(r'def\s*bicse\s*\(\s*scores\s*\)\s*->', text), 'show_doc signature of bicse'
    assert dom.count('<math') > 20  # the formulas of the chapter, as MathML
    assert re.search(r'test_eq\s*\(\s*bicse\s*\(', text)  # code cells are there
    check_screenshot(png)

def test_api_page(server, tmp_path):
    dom, png = browse(server + 'api/bicse.html', tmp_path, 'api-bicse')
    check_page(dom, 'toxitrace.bicse')
    text = text_of(dom)
    assert 'id="toxitrace.bicse.bicse"' in dom  # mkdocstrings' entry for the function
    assert re.search(r'bicse\s*\(\s*scores\s*\)', text), 'signature of bicse'
    assert 'BiCSE (Algorithm 1) on token' in text  # its docstring
    assert 'href="../bicse.html"' in dom  # and the chapter that explains it
    check_screenshot(png)

def test_cjk_font(chromium):
    "The Chinese in the pages needs a CJK font, or Chromium draws empty boxes (.ci/run installs fonts-noto-cjk)."
    fc = shutil.which('fc-list')
    if fc is None: pytest.skip('fc-list (fontconfig) is missing: cannot tell which fonts Chromium has')
    fonts = subprocess.run([fc, ':lang=zh', 'family'], capture_output=True, text=True, timeout=60).stdout
    assert fonts.strip(), 'no font covers Chinese: apt-get install -y fonts-noto-cjk'
