"""Write README.md from nbs/index.ipynb (markdown cells as they are, code cells fenced, text outputs kept).

Quarto, which `nbdev-readme` renders with, cannot be installed on our machines; this is the small
subset of it that a README needs. `python scripts/make_readme.py --check` fails when README.md is stale."""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def cell_text(cell):
    src = ''.join(cell['source'])
    if cell['cell_type'] == 'markdown': return src
    if src.lstrip().startswith('#| hide'): return ''
    code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|'))
    outs = [''.join(o.get('text', '')) or ''.join(o.get('data', {}).get('text/plain', ''))
            for o in cell.get('outputs', [])]
    out = '\n'.join(o.rstrip() for o in outs if o.strip())
    return f'```python\n{code}\n```' + (f'\n\n```\n{out}\n```' if out else '')

def readme() -> str:
    nb = json.loads((root/'nbs'/'index.ipynb').read_text(encoding='utf-8'))
    parts = [cell_text(c) for c in nb['cells']]
    note = '<!-- Generated from nbs/index.ipynb by scripts/make_readme.py: edit the notebook, not this file. -->\n\n'
    return note + '\n\n'.join(p for p in parts if p.strip()) + '\n'

if __name__ == '__main__':
    text, target = readme(), root/'README.md'
    if '--check' in sys.argv:
        if not target.exists() or target.read_text(encoding='utf-8') != text:
            sys.exit('README.md is out of date with nbs/index.ipynb: run `make readme`.')
    else: target.write_text(text, encoding='utf-8')
