"""Score saved runs' BiCSE spans (given toxic) on a CNTP part, once the choices were made on the dev slice.

    python experiments/score_cntp_part.py outputs/experiments/small-cold-1000-gcforms/cold \
        --seeds 0 1 2 --models ce_only toxitrace_detached toxitrace_detached_state \
        --out experiments/results/small-cold-1000-gcforms-cntp-test.json

Rows already in `--out` for the same (seed, model) are replaced, others kept; each invocation is recorded in `parts`."""
import argparse, sys, warnings
from pathlib import Path

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('runs', help='a grid folder holding seed<N>/<model>/joint classifier folders')
    ap.add_argument('--seeds', type=int, nargs='+', required=True)
    ap.add_argument('--models', nargs='+', required=True)
    ap.add_argument('--part', default='test', choices=['dev', 'test', 'all'])
    ap.add_argument('--out', required=True)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--limit', type=int, default=0, help='a seeded sample of this many sentences of the part (0: all; for smoke runs)')
    ap.add_argument('--data-dir', default=None, help='the data folder (default: toxitrace.data.resolve_data_dir)')
    a = ap.parse_args(argv)
    root, dest = Path(a.runs), Path(a.out)
    folders = {(s, m): root/f'seed{s}'/m/'joint' for s in a.seeds for m in a.models}
    if missing := [str(f) for f in folders.values() if not (f/'toxitrace.json').exists()]:
        sys.exit(f'score_cntp_part: error: no classifier folder at {", ".join(missing)}')
    warnings.filterwarnings('ignore')
    import torch; torch.set_num_threads(a.threads)
    from toxitrace.data import data_record, resolve_data_dir, span_eval_frame
    from toxitrace.evaluation import evaluate_classifier
    from toxitrace.model import load_classifier
    from toxitrace.runs import run_record, update_json
    d = resolve_data_dir(a.data_dir)
    frame = span_eval_frame(d, a.limit, 0, part=a.part)
    new = []
    for (seed, name), folder in folders.items():
        m, tok, meta = load_classifier(folder)
        s = evaluate_classifier(m, tok, dict(cntp=frame), meta['max_length'])['cntp_spans']
        new.append(dict(seed=seed, model=name, **{k: s[k] for k in ('n', 'overlap_f1', 'char_f1', 'char_iou', 'saliency_on_gold')}))
        print(new[-1], flush=True)
    rec = run_record(data_record(d), part=a.part, runs=str(root))
    part = dict(command='python experiments/score_cntp_part.py ' + ' '.join(sys.argv[1:] if argv is None else argv),
                git_commit=rec.get('git_commit'), seeds=a.seeds, models=a.models)
    def merged(old):       # read again under the lock: another scoring process may have written since we started
        old = old or {}
        rows = [r for r in old.get('rows', []) if (r['seed'], r['model']) not in folders] + new
        parts = old.get('parts') or ([dict(command=old['command'], git_commit=old.get('git_commit'))] if old else [])
        return dict(rec, parts=parts + [part], rows=sorted(rows, key=lambda r: (r['seed'], r['model'])))
    update_json(dest, merged)

if __name__ == '__main__': main()
