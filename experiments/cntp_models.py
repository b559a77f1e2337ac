#!/usr/bin/env python
"""Table 2 on CNTP for the models of one experiment run: the CE-only baseline against ToxiTrace, beside the
lexicon-only baseline and the CuSA refiner's own output.

The run folder is one seed of a `toxitrace experiment` on COLD (`OUT/NAME/cold/seedK`), which holds
`ce_only/warmup` (the warm-up classifier that every variant of the seed starts from), `ce_only/joint` (the
baseline: the warm-up trained on as many more epochs of cross-entropy as ToxiTrace's joint stage) and
`toxitrace/joint`. Rows, on all 2,533 CNTP toxic sentences (COLD-trained models have seen none of them):
  lexicon only              the offline refiner's lexicon matches, no model (ToxiCN's lexicons: flattered on CNTP)
  warmup BiCSE cues + lexicon the CuSA weak labels the joint stage trains on, here applied to CNTP
  <model> saliency x {BiCSE, top-15%} x {given toxic, end to end} for warmup, ce_only, toxitrace
and, per model, faithfulness (13_faithfulness) on a seeded sample of --faith-sample sentences: the confidence drop
when its BiCSE spans are masked against as many random tokens (Figures 4-6), ERASER comprehensiveness/sufficiency
and AOPC; the per-text drops are kept for the histograms.
Writes JSON with config, versions, machine and git commit; reports/reproduction.ipynb prints it.

    .venv/bin/python experiments/cntp_models.py --run outputs/experiments/small-cold-1000/cold/seed0
    .venv/bin/python experiments/cntp_models.py --run ... --sample 64 --faith-sample 32 --out /tmp/x.json   # a smoke run
"""
import argparse, json, sys, time, warnings
from pathlib import Path

MODELS = dict(warmup='ce_only/warmup', ce_only='ce_only/joint', toxitrace='toxitrace/joint')

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', default='outputs/experiments/small-cold-1000/cold/seed0', help='one seed folder of a COLD experiment')
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--sample', type=int, default=0, help='a seeded sample of CNTP for every row (0: all; for smoke runs)')
    ap.add_argument('--faith-sample', type=int, default=600, help='CNTP sentences for the faithfulness scores (0: all)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--data-dir', default=None)
    ap.add_argument('--out', default='experiments/results/cntp_models.json')
    args = ap.parse_args(argv)

    from toxitrace.data import resolve_data_dir
    from toxitrace.runs import run_record
    from toxitrace.cusa import LexiconRefiner, cue_spans
    from toxitrace.data import SpanWarning, load_dataset
    from toxitrace.detector import Detector
    from toxitrace.evaluation import cntp_span_rows, span_scores, span_table
    from toxitrace.faithfulness import faithfulness_report
    warnings.filterwarnings('ignore', category=SpanWarning)
    run, data_dir = Path(args.run), resolve_data_dir(args.data_dir)
    for m in MODELS.values():
        if not (run/m/'toxitrace.json').exists(): raise SystemExit(f'{run/m}: no classifier; run the experiment first')
    cntp = load_dataset('cntp', 'toxic', data_dir)
    if args.sample and args.sample < len(cntp): cntp = cntp.sample(args.sample, random_state=args.seed).reset_index(drop=True)
    texts, gold = cntp['text'].tolist(), cntp['spans'].tolist()
    res = dict(run_record(**vars(args)), run_config=json.loads((run/'toxitrace'/'config.json').read_text())['config'],
               n_texts=len(texts), rows=[], faithfulness={})
    faith = cntp if not args.faith_sample or args.faith_sample >= len(cntp) else cntp.sample(args.faith_sample, random_state=args.seed)
    out = Path(args.out); out.parent.mkdir(parents=True, exist_ok=True)
    t0, subset = time.time(), f'sample {len(cntp)}' if args.sample else 'all'
    lex = LexiconRefiner(data_dir=data_dir)
    res['rows'].append(dict(model='lexicon only', attribution='-', method='lexicon', end_to_end=False, subset=subset, seconds=0.0,
                            predicted_toxic=1.0, **span_scores(lex.refine_many(texts, [[]] * len(texts)), gold)))
    t = time.time()
    cues = cue_spans(str(run/MODELS['warmup']), texts, 'bicse', batch_size=args.batch_size, progress=False)
    refined = lex.refine_many(texts, [c['spans'] for c in cues], toxic=[c['label'] for c in cues])
    res['rows'].append(dict(model='warmup BiCSE cues + lexicon refiner', attribution='saliency', method='bicse+lexicon',
                            end_to_end=False, subset=subset, seconds=round(time.time() - t, 1),
                            predicted_toxic=sum(c['label'] for c in cues) / len(cues), **span_scores(refined, gold)))
    for name, rel in MODELS.items():
        det = Detector.from_pretrained(run/rel)
        res['rows'] += [dict(model=name, **r) for r in cntp_span_rows(det, data_dir, ('saliency',), sample=args.sample or None,
                                                                       seed=args.seed, batch_size=args.batch_size, progress=False)]
        t = time.time()
        df, summary = faithfulness_report(det, faith['text'].tolist(), seed=args.seed, batch_size=args.batch_size)
        res['faithfulness'][name] = dict(summary, seconds=round(time.time() - t, 1),
                                         **{c: df[c].round(6).tolist() for c in ('prob_toxic', 'span_drop', 'random_drop', 'no_spans')})
        print(f"{name}: span drop {summary['mean_span_drop']:.3f} vs random {summary['mean_random_drop']:.3f} "
              f"(span beats random on {summary['span_beats_random']:.0%}, Wilcoxon p {summary['wilcoxon_p']:.1e})", flush=True)
        res['wall_s'] = round(time.time() - t0, 1)
        out.write_text(json.dumps(res, indent=1, ensure_ascii=False, default=float), encoding='utf-8')     # after each model
    table = span_table(res['rows'])
    table.insert(0, 'model', [r['model'] for r in res['rows']])
    print(table.to_string(index=False))
    print(f'Written {out}')

if __name__ == '__main__': sys.exit(main())
