#!/usr/bin/env python
"""How good are CuSA's offline weak labels? Each refiner's spans on CNTP's toxic sentences, treated as training texts
(given toxic: CuSA annotates only texts labelled toxic), against CNTP's gold spans, on the fixed dev slice (500
sentences, where the refiner's settings were chosen), on the other 2,033 (`test`: report these) and on all 2,533.

Rows: the warm-up classifier's BiCSE cues alone (the `no_cusa` ablation's labels), `lexicon` (cues extended to the
two lexicons' terms), `state` (the lexicons plus span strings mined from STATE ToxiCN, its 1,687 posts that are CNTP
sentences dropped, matches first), and the two lexicon matchers without cues. Writes JSON with config, versions,
machine and git commit.

    .venv/bin/python benchmarks/weak_labels.py --classifier outputs/demo/warmup
"""
import argparse, json, sys, warnings
from pathlib import Path

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--classifier', default='outputs/demo/warmup', help='the warm-up classifier folder whose cues CuSA refines')
    ap.add_argument('--data-dir', default=None)
    ap.add_argument('--out', default='benchmarks/results/weak_labels.json')
    args = ap.parse_args(argv)
    if not (Path(args.classifier)/'toxitrace.json').exists(): sys.exit(f'weak_labels: {args.classifier}: no classifier folder (toxitrace.json)')
    import torch
    torch.set_num_threads(1)
    from toxitrace.runs import run_record, write_json_atomic
    from toxitrace.data import cntp_dev_ids, load_dataset, resolve_data_dir
    from toxitrace.cusa import LexiconRefiner, cue_spans, lexicon_terms, state_refiner, state_span_terms
    from toxitrace.evaluation import span_scores
    d = resolve_data_dir(args.data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        cntp = load_dataset('cntp', 'toxic', d)
    texts, gold = cntp.text.tolist(), cntp.spans.tolist()
    cues = [c['spans'] for c in cue_spans(args.classifier, texts, cache_path=Path(args.classifier).parent/'cusa_cntp_cues.jsonl', progress=False)]
    state = state_refiner(d)
    preds = {'BiCSE cues (no_cusa)': cues,
             'lexicon refiner': LexiconRefiner(data_dir=d).refine_many(texts, cues),
             'state refiner': state.refine_many(texts, cues),
             'lexicon matches only': LexiconRefiner(data_dir=d).refine_many(texts, [[]] * len(texts)),
             'lexicons + STATE terms, matches only': LexiconRefiner(terms=lexicon_terms(d) + state_span_terms(d)[0], gap=0).refine_many(texts, [[]] * len(texts))}
    dev = set(cntp_dev_ids(d))
    parts = dict(dev=[i for i, s in enumerate(cntp.sentence_id) if s in dev], test=[i for i, s in enumerate(cntp.sentence_id) if s not in dev],
                 all=list(range(len(cntp))))
    rows = []
    for name, p in preds.items():
        for part, idx in parts.items():
            s = span_scores([p[i] for i in idx], [gold[i] for i in idx])
            rows.append(dict(refiner=name, part=part, n=len(idx), **{k: round(100 * s[k], 2) for k in ('overlap_f1', 'char_p', 'char_r', 'char_f1', 'char_iou')}))
    print(f"{'refiner':<40}{'part':>6}{'n':>6}{'Ov-F1':>8}{'Ch-P':>8}{'Ch-R':>8}{'Ch-F1':>8}{'IoU':>8}")
    for r in rows: print(f"{r['refiner']:<40}{r['part']:>6}{r['n']:>6}{r['overlap_f1']:>8.2f}{r['char_p']:>8.2f}{r['char_r']:>8.2f}{r['char_f1']:>8.2f}{r['char_iou']:>8.2f}")
    res = dict(run_record(classifier=args.classifier, data_dir=str(d)), state_terms=state_span_terms(d)[1], state_refiner_version=state.version, rows=rows)
    print(f'Written {write_json_atomic(args.out, res)}')
    return res

if __name__ == '__main__': main()
