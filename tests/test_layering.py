"""The package is a ladder: every module imports only modules of lower chapters (function-local imports included),
nothing imports `cli`, and nothing in the core imports `test_utils`. The chapter of a module is the number of the
notebook that exports it (`#| default_exp`), in the order `nbs/` sorts them."""
import ast, json, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT/'toxitrace'


def chapters() -> dict[str, int]:
    "module -> its position in the chapter order."
    order = {}
    for i, nb in enumerate(sorted((ROOT/'nbs').glob('[0-9]*.ipynb'))):
        for cell in json.loads(nb.read_text(encoding='utf-8'))['cells']:
            if m := re.search(r'#\|\s*default_exp\s+(\S+)', ''.join(cell['source'])): order[m.group(1)] = i
    return order


def imports(path: Path) -> set[str]:
    "The toxitrace modules a module imports anywhere in its source."
    mods = {p.stem for p in PKG.glob('*.py')}
    out = set()
    for n in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(n, ast.ImportFrom):
            if n.level and n.module: out.add(n.module.split('.')[0])
            elif n.level: out |= {a.name for a in n.names}
            elif n.module and n.module.startswith('toxitrace.'): out.add(n.module.split('.')[1])
            elif n.module == 'toxitrace': out |= {a.name for a in n.names}
        elif isinstance(n, ast.Import): out |= {a.name.split('.')[1] for a in n.names if a.name.startswith('toxitrace.')}
    return out & mods - {path.stem}


def test_every_module_is_a_chapter():
    order = chapters()
    missing = [p.stem for p in PKG.glob('*.py') if not p.stem.startswith('_') and p.stem not in order]
    assert not missing, f'modules without a notebook: {missing}'


def test_modules_import_only_lower_chapters():
    order = chapters()
    bad = [f'{p.stem} ({order[p.stem]}) imports {m} ({order[m]})'
           for p in PKG.glob('*.py') if p.stem in order for m in sorted(imports(p)) if m in order and order[m] >= order[p.stem]]
    assert not bad, 'imports against the chapter order: ' + '; '.join(bad)


def test_nothing_imports_the_cli_and_the_core_never_the_test_utils():
    bad = [f'{p.stem} imports {m}' for p in PKG.glob('*.py') for m in imports(p)
           if m == 'cli' or (m == 'test_utils' and p.stem != 'test_utils')]
    assert not bad, bad


def test_imports_is_not_blind(tmp_path):
    "The parser sees module-level and function-local imports, relative and absolute (a check of the check); the probe lives in a temp folder, never in the package."
    src = 'from .data import x\nimport toxitrace.model\ndef f():\n    from toxitrace.cli import main\n    from . import spans\n'
    p = tmp_path/'_layering_probe.py'
    p.write_text(src)
    assert imports(p) >= {'data', 'model', 'cli', 'spans'}
    assert not (PKG/'_layering_probe.py').exists()


def test_bottom_modules_load_no_torch():
    "spans, runs, data and bicse are plain Python/numpy/pandas: importing them must not load torch."
    code = 'import sys, toxitrace.spans, toxitrace.runs, toxitrace.data, toxitrace.bicse; print("torch" in sys.modules)'
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == 'False'
