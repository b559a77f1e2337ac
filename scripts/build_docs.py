"""Build the docs site (`make docs`): the notebooks as pages, the README as home page, an API reference.

Quarto, which nbdev renders its sites with, cannot be installed on our machines, so this is the
pure-Python equivalent. Each `nbs/NN_*.ipynb` goes through nbdev's own notebook processors (the
directives are stripped, `#| hide` cells dropped, a `show_doc` block added under every exported
definition, as nbdev's `add_show_docs` does) and is written as a Markdown page with its stored
outputs: figures as PNG files, tables as HTML, text as text. Notebooks are not executed. Every
`toxitrace/*.py` module gets an API page (`::: toxitrace.module`, rendered by mkdocstrings from the
source's signatures and docstrings). mkdocs-material then builds the site from `mkdocs.yml`.

    python scripts/build_docs.py                 # pages in _proc/docs, site in _site
    python scripts/build_docs.py --serve         # the same pages on http://127.0.0.1:8000/toxitrace/ (rerun after editing a notebook)
    python scripts/build_docs.py --site-dir DIR --pages-dir DIR2   # elsewhere (the tests do)
"""
import argparse, base64, importlib, inspect, json, logging, re, shutil, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(root))  # show_doc documents this working tree's package, not another install

from fastcore.docments import MarkdownRenderer
from nbdev.config import nbpath2html
from nbdev.process import NBProcessor
from nbdev.processors import (add_show_docs, clean_magics, filter_stream_, hide_, hide_line, populate_language,
                              rm_header_dash, strip_ansi, strip_hidden_metadata)

LIB = 'toxitrace'
REPO_URL = 'https://github.com/toxitrace/toxitrace'

def chapters() -> list[Path]:
    "The notebooks that are chapters, in order (`index.ipynb` is the README, the home page), then the reports (`reports/`)."
    return sorted(p for p in (root/'nbs').glob('*.ipynb') if p.stem != 'index') + sorted((root/'reports').glob('*.ipynb'))

def modules() -> list[str]:
    "Public modules of the package, from the files in `toxitrace/` (new ones are picked up as they appear)."
    return sorted(p.stem for p in (root/LIB).glob('*.py') if not p.stem.startswith('_'))

_re_default_exp = re.compile(r'^\s*#\|\s*default_exp\s+(\S+)', re.M)

def default_exp(nb_path: Path) -> str | None:
    "The module a notebook exports to."
    for cell in json.loads(nb_path.read_text(encoding='utf-8'))['cells']:
        if cell['cell_type'] == 'code' and (m := _re_default_exp.search(''.join(cell['source']))): return m.group(1)

# ---------------------------------------------------------------- show_doc, the nbdev way

def show_doc_md(nm: str, module: str) -> str:
    "nbdev's `show_doc` for `nm` (defined by the notebook of `toxitrace.<module>`): heading, signature with docments, docstring, source link."
    sym = resolve(nm, module)
    body = MarkdownRenderer(sym, name=nm)._repr_markdown_()
    if isinstance(sym, type): body = body.replace(f'def {sym.__name__}(', f'class {sym.__name__}(', 1)
    src = source_link(sym)
    link = f'[source]({src}){{ .sd-source }}\n\n' if src else ''
    # the anchor nbdev gives it (`_modidx`: bicse.html#bicse), so nbdev's doc links land here
    return f'<div class="showdoc" markdown>\n\n{link}#### `{nm}` {{ #{nm.lower()} }}\n\n{body}\n\n</div>'

def resolve(nm: str, module: str):
    "The object `nm` names: in the notebook's module, else in whichever module a cell exported it to."
    for m in [module] + [m for m in modules() if m != module]:
        try: return eval(nm, vars(importlib.import_module(f'{LIB}.{m}')))
        except (NameError, AttributeError): pass
    raise NameError(f'show_doc: {nm!r} is in no {LIB} module')

def source_link(sym) -> str | None:
    "GitHub link to the lines of `sym` in the exported module."
    try:
        f = Path(inspect.getsourcefile(sym)).resolve()
        lines, start = inspect.getsourcelines(sym)
        rel = f.relative_to(root).as_posix()
    except (TypeError, OSError, ValueError): return None
    return f'{REPO_URL}/blob/main/{rel}#L{start}-L{start+len(lines)-1}'

# ---------------------------------------------------------------- notebook -> Markdown

def _terminal(text: str) -> str:
    "Text as a terminal shows it: a carriage return overwrites its line (progress bars)."
    return '\n'.join(l.rsplit('\r', 1)[-1] for l in text.rstrip('\n').split('\n'))

def _fence(text: str, cls: str) -> str:
    ticks = '`'*max(3, 1+max((len(m) for m in re.findall(r'`+', text)), default=0))
    return f'{ticks} {{ .text .{cls} }}\n{text}\n{ticks}'

def _html_block(h: str) -> str:
    "Raw HTML that Python-Markdown passes through untouched: one block, no blank lines inside."
    h = '\n'.join(l for l in h.splitlines() if l.strip())
    return f'<div class="nb-output nb-html">\n{h}\n</div>'

def output_md(out: dict, stem: str, n_fig: list, pages: Path) -> str:
    "One stored output as Markdown; figures are written to `figures/`."
    kind = out.get('output_type')
    if kind == 'stream':
        text = _terminal(''.join(out.get('text', '')))
        return _fence(text, 'nb-stderr' if out.get('name') == 'stderr' else 'nb-output') if text.strip() else ''
    if kind == 'error':  # shown, never hidden: the site test fails on it
        tb = re.sub(r'\x1b\[[0-9;]*m', '', '\n'.join(out.get('traceback', [])))
        return _fence(tb, 'nb-error')
    data = out.get('data', {})
    for mime in ('image/png', 'image/jpeg'):
        if mime in data:
            n_fig[0] += 1
            name = f'{stem}-{n_fig[0]}.{mime.split("/")[1]}'
            (pages/'figures').mkdir(exist_ok=True)
            (pages/'figures'/name).write_bytes(base64.b64decode(''.join(data[mime])))
            return f'![Figure {n_fig[0]} of {stem}](figures/{name}){{ .nb-figure }}'
    if 'image/svg+xml' in data: return _html_block(''.join(data['image/svg+xml']))
    if 'text/html' in data: return _html_block(''.join(data['text/html']))
    if 'text/markdown' in data: return ''.join(data['text/markdown'])
    if 'text/plain' in data: return _fence(_terminal(''.join(data['text/plain'])), 'nb-output')
    return ''

class drop_empty:
    "Drop code cells left with no source and no outputs (a `default_exp` cell once its directive is stripped)."
    def __init__(self, nb): self.nb = nb
    def __call__(self, cell):
        if cell.cell_type == 'code' and not cell.source.strip() and not cell.get('outputs') and not getattr(cell, 'has_sd', False):
            del cell['source']

class Chapter:
    "A notebook as a page: `page` is nbdev's name for it (06_bicse.ipynb -> bicse, as in bicse.html), `blocks` its Markdown."
    def __init__(self, nb_path: Path, pages: Path):
        self.stem, self.page, self.module = nb_path.stem, nbpath2html(nb_path.name).stem, default_exp(nb_path)
        self.label = self.stem if nb_path.parent.name == 'nbs' else f'{nb_path.parent.name}/{self.stem}'   # as the README names it
        procs = [populate_language, add_show_docs, strip_ansi, hide_line, filter_stream_, rm_header_dash,
                 clean_magics, hide_, strip_hidden_metadata, drop_empty]
        nb = NBProcessor(nb_path, procs, rm_directives=True)
        nb.process()
        self.title, self.description, self.blocks, self.anchors, n_fig = self.stem, None, [], set(), [0]
        for cell in nb.nb.cells:
            if cell.cell_type == 'markdown':
                if self.title == self.stem and (m := re.match(r'\s*#\s+(.+)', cell.source)):
                    self.title = m.group(1).strip()
                    if d := re.search(r'^>\s*(.+)$', cell.source, re.M): self.description = d.group(1).strip()
                self.blocks.append(('md', cell.source))
            elif getattr(cell, 'has_sd', False):
                nm = re.fullmatch(r'show_doc\((.+)\)', cell.source.strip()).group(1)
                self.anchors.add(nm.lower())
                self.blocks.append(('doc', show_doc_md(nm, self.module)))
            elif cell.cell_type == 'code':
                if cell.source.strip(): self.blocks.append(('code', f'```python\n{cell.source.rstrip()}\n```'))
                for out in cell.get('outputs', []):
                    if o := output_md(out, self.page, n_fig, pages): self.blocks.append(('out', o))

    def markdown(self, links: dict[str, str]) -> str:
        front = f'---\ndescription: {json.dumps(self.description, ensure_ascii=False)}\n---\n\n' if self.description else ''
        return front + '\n\n'.join(linkify(t, links) if k == 'md' else t for k, t in self.blocks) + '\n'

def doc_links(chs: list[Chapter]) -> dict[str, str]:
    """Exported name -> its page (and its `show_doc` anchor where the chapter has one), from nbdev's `_modidx`.
    Keys are names as the prose writes them (`bicse`, `Detector.predict`); a short name two modules share is left out."""
    from toxitrace._modidx import d
    anchors = {c.page: c.anchors for c in chs}
    found = {}
    for mod, syms in d['syms'].items():
        for full, (doc, _) in syms.items():
            nm = full[len(mod)+1:]
            if nm.split('.')[-1].startswith('_'): continue
            page, _, anchor = doc.partition('#')
            page = page.removesuffix('.html')
            if page not in anchors: continue
            found.setdefault(nm, set()).add(f'{page}.md' + (f'#{anchor}' if anchor in anchors[page] else ''))
    return {nm: t.pop() for nm, t in found.items() if len(t) == 1}

_re_fence = re.compile(r'^(```|~~~).*?^\1[ \t]*$', re.M | re.S)
_re_sym = re.compile(r'(?<![\[\w])`([A-Za-z_][\w.]*)(\(\))?`(?![\]\w(])')

def linkify(md: str, links: dict[str, str]) -> str:
    "Backticked exported names in prose (`bicse`, `Detector.predict()`) become links to their docs, as nbdev's `add_links` does; not in code blocks or headings."
    def sub(m): return f'[`{m.group(1)}{m.group(2) or ""}`]({links[m.group(1)]})' if m.group(1) in links else m.group(0)
    def prose(t): return '\n'.join(l if l.lstrip().startswith('#') else _re_sym.sub(sub, l) for l in t.split('\n'))
    parts, last = [], 0
    for f in _re_fence.finditer(md):
        parts += [prose(md[last:f.start()]), f.group(0)]; last = f.end()
    return ''.join(parts + [prose(md[last:])])

# ---------------------------------------------------------------- home page and API pages

def home_md(chs: list[Chapter], links: dict[str, str]) -> str:
    "README.md as the home page, with its chapter names and exported names linked."
    md = (root/'README.md').read_text(encoding='utf-8')
    md = re.sub(r'^<!--.*?-->\s*', '', md, flags=re.S)
    for c in chs: md = md.replace(f'`{c.label}`', f'[`{c.label}`]({c.page}.md)')
    return linkify(md, links)

def api_md(module: str, ch: Chapter | None) -> str:
    where = f'\n\nExplained, with worked examples and tests, in the chapter [{ch.title}](../{ch.page}.md).' if ch else ''
    return (f'# `{LIB}.{module}`{where}\n\n'
            f'::: {LIB}.{module}\n    options:\n      show_root_heading: false\n      show_root_toc_entry: false\n')

def write_pages(pages: Path) -> tuple[list, list[Chapter]]:
    "Write every page into `pages`; return the navigation and the chapters."
    if pages.exists(): shutil.rmtree(pages)
    (pages/'api').mkdir(parents=True)
    shutil.copytree(root/'scripts'/'docs_assets', pages/'assets')
    if (root/'nbs'/'images').is_dir(): shutil.copytree(root/'nbs'/'images', pages/'images')   # pictures the chapters show
    chs = [Chapter(nb, pages) for nb in chapters()]
    links = doc_links(chs)
    for c in chs: (pages/f'{c.page}.md').write_text(c.markdown(links), encoding='utf-8')
    (pages/'index.md').write_text(home_md(chs, links), encoding='utf-8')
    ch_of = {c.module: c for c in chs if c.module}
    order = {c.module: i for i, c in enumerate(chs)}
    mods = sorted(modules(), key=lambda m: (order.get(m, len(order)), m))
    for m in mods: (pages/'api'/f'{m}.md').write_text(api_md(m, ch_of.get(m)), encoding='utf-8')
    nav = [{'Home': 'index.md'},
           {'Chapters': [{f'{c.label}: {c.title.replace("`", "")}': f'{c.page}.md'} for c in chs]},
           {'API reference': [{f'{LIB}.{m}': f'api/{m}.md'} for m in mods]}]
    return nav, chs

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--pages-dir', default=str(root/'_proc'/'docs'), help='where the Markdown pages are written')
    ap.add_argument('--site-dir', default=str(root/'_site'), help='where the site is built')
    ap.add_argument('--serve', action='store_true', help='serve on 127.0.0.1:8000 instead of building')
    ap.add_argument('--no-strict', action='store_true', help='do not fail on mkdocs warnings')
    args = ap.parse_args(argv)
    log = logging.getLogger('mkdocs')  # what the mkdocs command line shows: INFO and up; --strict fails on warnings
    if not log.handlers:
        h = logging.StreamHandler(); h.setFormatter(logging.Formatter('%(levelname)-7s -  %(message)s'))
        log.addHandler(h); log.setLevel(logging.INFO)
    pages, site = Path(args.pages_dir).resolve(), Path(args.site_dir).resolve()
    nav, chs = write_pages(pages)
    kw = dict(docs_dir=str(pages), nav=nav, strict=not args.no_strict)
    if args.serve:  # mkdocs serves from a temporary folder, under the site_url's path (/toxitrace/)
        from mkdocs.commands.serve import serve
        return serve(str(root/'mkdocs.yml'), **kw)
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    build(load_config(str(root/'mkdocs.yml'), site_dir=str(site), **kw))
    # Each page's Markdown beside its HTML, at the URL the `Docs:` line of every module docstring names
    for name in [c.page for c in chs] + ['index']: shutil.copy(pages/f'{name}.md', site/f'{name}.html.md')
    print(f'site: {site}/index.html')

if __name__ == '__main__': main()
