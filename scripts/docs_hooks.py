"""mkdocs hooks for the toxitrace site (named in mkdocs.yml).

* TeX to MathML at build time: pymdownx.arithmatex marks the math (`$...$`, `$$...$$`) and leaves it
  untouched by Markdown; here latex2mathml turns it into MathML, which browsers render natively. The
  pages need no MathJax and no CDN, so they show their formulas offline too.
* "View source" of a page points at the notebook it was made from (nbs/*.ipynb), not at the generated Markdown."""
import html, logging, re

from latex2mathml.converter import convert

log = logging.getLogger('mkdocs.hooks.toxitrace')
_re_math = re.compile(r'<(span|div) class="arithmatex">(.*?)</\1>', re.S)
_re_delims = re.compile(r'^\\[(\[](.*)\\[)\]]$', re.S)

def _mathml(m, page):
    tag, tex = m.group(1), html.unescape(m.group(2)).strip()
    if d := _re_delims.match(tex): tex = d.group(1).strip()
    try: ml = convert(tex, display='block' if tag == 'div' else 'inline')
    except Exception as e:
        log.warning(f'{page.file.src_uri}: could not convert TeX to MathML ({type(e).__name__}: {e}): {tex}')
        return m.group(0)
    return f'<{tag} class="math">{ml}</{tag}>'

def on_page_content(content, page, **kw): return _re_math.sub(lambda m: _mathml(m, page), content)

def on_page_markdown(markdown, page, config, **kw):
    src = page.file.src_uri
    nb = 'index' if src == 'index.md' else src[:-3] if '/' not in src else None
    page.edit_url = f"{config['repo_url']}/blob/main/nbs/{nb}.ipynb" if nb else None
    return markdown
