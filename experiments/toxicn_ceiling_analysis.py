#!/usr/bin/env python
"""Issue #25's readings of the ToxiCN ceiling grid (`experiments/toxicn-ceiling.json`), from its saved run folders:

1. `labels`: every run's weak span labels (`cues_refined.jsonl`) and its warm-up's BiCSE cues against CNTP's human
   spans, on the run's own toxic training texts that have human spans (given toxic, as CuSA annotates): how good the
   labels GCLoss trained on were, where that can be measured.
2. `dev`: BiCSE spans (given toxic) of every model on the 407 CNTP dev-slice sentences held out of training
   (`held_out_dev`): where settings are chosen, never on the 482 test sentences.
3. `threshold`: P(toxic) on the run's validation texts and on ToxiCN test; the decision threshold that maximises
   validation Macro-F1; test scores at 0.5 and at that threshold (is a recall loss a shifted threshold or a worse
   ranking? PR-AUC does not depend on the threshold).

    python experiments/toxicn_ceiling_analysis.py outputs/experiments/toxicn-ceiling/toxicn --seeds 0 1 2 \\
        --models warmup ce_only toxitrace toxitrace_goldstate toxitrace_gold --out experiments/results/toxicn-ceiling-analysis.json

`warmup` is each seed's shared warm-up (in the first variant's folder). Rows already in `--out` for the same
(seed, model) are replaced, others kept."""
import argparse, json, sys, time, warnings
from pathlib import Path

THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]

def folders(root:Path, seed:int, model:str) -> tuple[Path, Path]:
    "(classifier folder, run folder) of `model` at `seed`: the warm-up lives in the first variant's run folder."
    if model == 'warmup':
        run = next(p.parent.parent for p in sorted((root/f'seed{seed}').glob('*/warmup/toxitrace.json')))
        return run/'warmup', run
    return root/f'seed{seed}'/model/'joint', root/f'seed{seed}'/model

def label_quality(run:Path, gold) -> dict:
    "The run's labels and cues against the human spans on its toxic training texts that have them (points: fractions)."
    from toxitrace.cusa import load_annotations
    from toxitrace.evaluation import span_scores
    ann = load_annotations(run/'cues_refined.jsonl')
    ann = ann[ann.label == 1]
    g = [gold.gold_spans(t) for t in ann.text]
    keep = [i for i, s in enumerate(g) if s is not None]
    labelled = [i for i in keep if ann.has_label.iloc[i]]
    lab = span_scores([ann.spans.iloc[i] for i in labelled], [g[i] for i in labelled])
    cue = span_scores([ann.cue_spans.iloc[i] for i in keep], [g[i] for i in keep])
    return dict(toxic_texts=len(ann), with_gold=len(keep), labelled_with_gold=len(labelled), labelled=int(ann.has_label.sum()),
                **{f'labels_{k}': lab[k] for k in ('overlap_f1', 'char_f1')}, **{f'cues_{k}': cue[k] for k in ('overlap_f1', 'char_f1')})

def threshold_study(det, frames) -> dict:
    "Validation-chosen threshold and test scores at 0.5 and at it."
    import numpy as np
    from toxitrace.evaluation import classification_scores
    p = {k: det.proba(frames[k].text.tolist(), 64) for k in ('valid', 'test')}
    y = {k: frames[k].label.to_numpy() for k in p}
    at = lambda k, t: classification_scores(y[k], (p[k] >= t).astype(int))
    best = max(THRESHOLDS, key=lambda t: (at('valid', t)['macro_f1'], -abs(t - 0.5)))
    return dict(threshold=best, valid_at_05=at('valid', 0.5), valid_at_best=at('valid', best),
                test_at_05=at('test', 0.5), test_at_best=at('test', best),
                test_mean_p_toxic=float(p['test'][y['test'] == 1].mean()), test_mean_p_nontoxic=float(p['test'][y['test'] == 0].mean()))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('runs', help='the grid folder holding seed<N>/<variant>/ run folders')
    ap.add_argument('--seeds', type=int, nargs='+', required=True)
    ap.add_argument('--models', nargs='+', required=True, help="variants, and 'warmup' for each seed's warm-up")
    ap.add_argument('--out', required=True)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--limit', type=int, default=0, help='score at most this many texts of each frame (0: all; for smoke runs)')
    a = ap.parse_args(argv)
    root = Path(a.runs)
    todo = {(s, m): folders(root, s, m) for s in a.seeds for m in a.models}
    if missing := [str(f) for f, _ in todo.values() if not (f/'toxitrace.json').exists()]:
        sys.exit(f'toxicn_ceiling_analysis: error: no classifier folder at {", ".join(missing)}')
    warnings.filterwarnings('ignore')
    import torch; torch.set_num_threads(a.threads)
    from toxitrace.detector import Detector
    from toxitrace.evaluation import evaluate_classifier
    from toxitrace.gold import GoldRefiner
    from toxitrace.model import load_classifier
    from dataclasses import fields
    from toxitrace.pipeline import ToxiTraceConfig, held_out_dev, resolve_config, run_data
    from toxitrace.data import data_record
    from toxitrace.runs import run_record, update_json
    gold, new, frames = GoldRefiner(), [], {}
    cut = lambda df: df.sample(a.limit, random_state=0) if a.limit and a.limit < len(df) else df
    for (seed, model), (clf, run) in todo.items():
        t0 = time.time()
        metrics = json.loads((run/'metrics.json').read_text(encoding='utf-8'))
        if seed not in frames:
            c = resolve_config({k: v for k, v in metrics['config'].items() if k in {f.name for f in fields(ToxiTraceConfig)}})
            fr = run_data(c)
            frames[seed] = dict(valid=cut(fr['valid']), test=cut(fr['test']), cntp=cut(held_out_dev(c['data_dir'], 0, seed)))
        m, tok, meta = load_classifier(clf)
        det = Detector(m, tok, max_length=meta['max_length'])
        dev = evaluate_classifier(m, tok, dict(cntp=frames[seed]['cntp']), meta['max_length'])['cntp_spans']
        th = threshold_study(det, frames[seed])
        own = ((metrics.get('scores') or {}).get('warmup' if model == 'warmup' else 'joint') or {}).get('test')
        if own and not a.limit and abs(own['macro_f1'] - th['test_at_05']['macro_f1']) > 1e-6:   # the run's own frames, or a wrong reading
            sys.exit(f"toxicn_ceiling_analysis: error: {clf}: test Macro-F1 at 0.5 is {th['test_at_05']['macro_f1']:.6f} here, {own['macro_f1']:.6f} in its run")
        row = dict(seed=seed, model=model, dev={k: dev[k] for k in ('n', 'overlap_f1', 'char_f1', 'saliency_on_gold')}, threshold=th,
                   labels=None if model == 'warmup' else label_quality(run, gold), seconds=round(time.time() - t0, 1))
        new.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != 'threshold'}), flush=True)
    rec = run_record(data_record(None), runs=str(root),
                     command='python experiments/toxicn_ceiling_analysis.py ' + ' '.join(sys.argv[1:] if argv is None else argv))
    def merged(old):
        rows = [r for r in (old or {}).get('rows', []) if (r['seed'], r['model']) not in todo] + new
        return dict(rec, thresholds=THRESHOLDS, rows=sorted(rows, key=lambda r: (r['seed'], r['model'])))
    update_json(Path(a.out), merged)

if __name__ == '__main__': main()
