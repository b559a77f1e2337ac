#!/usr/bin/env python
"""How good are CuSA's offline weak labels? Each refiner's spans on CNTP's toxic sentences, treated as training texts
(given toxic: CuSA annotates only texts labelled toxic), against CNTP's gold spans, on the fixed dev slice (500
sentences, where the refiner's settings were chosen), on the other 2,033 (`test`: report these) and on all 2,533.

Rows: the warm-up classifier's BiCSE cues alone (the `no_cusa` ablation's labels), `lexicon` (cues extended to the
two lexicons' terms), `state` (the lexicons plus span strings mined from STATE ToxiCN, its 1,687 posts that are CNTP
sentences dropped, matches first), the two lexicon matchers without cues, and `learned` (08b_tagger: a span tagger
fine-tuned on STATE ToxiCN's Target/Argument spans, the same 1,687 posts dropped; its threshold, span kinds and use of
cues and lexicons chosen on the dev slice from a grid that is stored too). The tagger is read from `--tagger`, or
trained there first (minutes on 2 CPU cores). Writes JSON with config, versions, machine and git commit.

    .venv/bin/python experiments/weak_labels.py --classifier outputs/demo/warmup --tagger outputs/tagger
"""
import argparse, sys, warnings
from pathlib import Path

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--classifier', default='outputs/demo/warmup', help='the warm-up classifier folder whose cues CuSA refines')
    ap.add_argument('--data-dir', default=None, help='the data folder (default: toxitrace.data.resolve_data_dir)')
    ap.add_argument('--limit', type=int, default=0, help='a seeded sample of this many CNTP toxic sentences (0: all; for smoke runs)')
    ap.add_argument('--out', default='experiments/results/weak_labels.json')
    ap.add_argument('--cue-cache', default=None, help="the cue cache (default: cusa_cntp_cues.jsonl beside the classifier folder)")
    ap.add_argument('--tagger', default='outputs/tagger', help="the learned refiner's tagger folder (trained there when missing)")
    args = ap.parse_args(argv)
    if not (Path(args.classifier)/'toxitrace.json').exists(): sys.exit(f'weak_labels: {args.classifier}: no classifier folder (toxitrace.json)')
    import torch
    torch.set_num_threads(1)
    from toxitrace.runs import run_record, write_json_atomic
    from toxitrace.data import cntp_dev_ids, load_dataset, resolve_data_dir
    from toxitrace.cusa import LexiconRefiner, cue_spans, lexicon_terms, state_refiner, state_span_terms
    from toxitrace.evaluation import span_scores
    from toxitrace.tagger import LEARNED_CUE_MODES, LEARNED_SETTINGS, LearnedRefiner, learned_lexicon, tagger_for
    d = resolve_data_dir(args.data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        cntp = load_dataset('cntp', 'toxic', d)
    if args.limit and args.limit < len(cntp): cntp = cntp.sample(args.limit, random_state=0).sort_index().reset_index(drop=True)
    texts, gold = cntp.text.tolist(), cntp.spans.tolist()
    cues_all = [c['spans'] for c in cue_spans(args.classifier, texts, cache_path=args.cue_cache or Path(args.classifier).parent/'cusa_cntp_cues.jsonl', progress=False)]
    state = state_refiner(d)
    dev = set(cntp_dev_ids(d))
    parts = dict(dev=[i for i, s in enumerate(cntp.sentence_id) if s in dev], test=[i for i, s in enumerate(cntp.sentence_id) if s not in dev],
                 all=list(range(len(cntp))))
    score = lambda p, part: span_scores([p[i] for i in parts[part]], [gold[i] for i in parts[part]])
    model, tok, meta = tagger_for(args.tagger, d)
    learned = LearnedRefiner(model, tok, meta)
    learned.probs(texts)                                   # the tagger runs once; the variants below reuse its probabilities
    lexicons = {name: learned_lexicon(name, d) for name in ('none', 'lexicons', 'state')}
    dev_texts, dev_cues, dev_gold = ([x[i] for i in parts['dev']] for x in (texts, cues_all, gold))
    grid = []                                              # the learned refiner's settings, scored on the dev slice only
    for thr in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        for kinds in (('target',), ('argument',), ('target', 'argument')):
            for cues in LEARNED_CUE_MODES:
                for lex in lexicons:
                    s = span_scores(learned.variant(threshold=thr, kinds=kinds, cues=cues, lexicon=lexicons[lex]).refine_many(dev_texts, dev_cues), dev_gold)
                    grid.append(dict(threshold=thr, kinds=list(kinds), cues=cues, lexicon=lex, dev_overlap_f1=round(100 * s['overlap_f1'], 2),
                                     dev_char_f1=round(100 * s['char_f1'], 2)))
    best = max(grid, key=lambda g: g['dev_overlap_f1'] + g['dev_char_f1'])
    chosen = dict(threshold=best['threshold'], kinds=tuple(best['kinds']), cues=best['cues'], lexicon=best['lexicon'])
    print(f'learned refiner: chosen on the dev slice (max overlap F1 + char F1 over {len(grid)} settings): {chosen}; LEARNED_SETTINGS: {LEARNED_SETTINGS}')
    variant = lambda s: learned.variant(threshold=s['threshold'], kinds=s['kinds'], cues=s['cues'], lexicon=lexicons[s['lexicon']])
    preds = {'BiCSE cues (no_cusa)': cues_all,
             'lexicon refiner': LexiconRefiner(data_dir=d).refine_many(texts, cues_all),
             'state refiner': state.refine_many(texts, cues_all),
             'lexicon matches only': LexiconRefiner(data_dir=d).refine_many(texts, [[]] * len(texts)),
             'lexicons + STATE terms, matches only': LexiconRefiner(terms=lexicon_terms(d) + state_span_terms(d)[0], gap=0).refine_many(texts, [[]] * len(texts)),
             'learned refiner, tagger alone (threshold 0.5, both kinds)': learned.variant(cues='ignore').refine_many(texts, cues_all),
             'learned refiner (LEARNED_SETTINGS)': variant(LEARNED_SETTINGS).refine_many(texts, cues_all),
             'learned refiner (chosen on dev)': variant(chosen).refine_many(texts, cues_all)}
    rows = []
    for name, p in preds.items():
        for part, idx in parts.items():
            s = score(p, part)
            rows.append(dict(refiner=name, part=part, n=len(idx), **{k: round(100 * s[k], 2) for k in ('overlap_f1', 'char_p', 'char_r', 'char_f1', 'char_iou')}))
    print(f"{'refiner':<58}{'part':>6}{'n':>6}{'Ov-F1':>8}{'Ch-P':>8}{'Ch-R':>8}{'Ch-F1':>8}{'IoU':>8}")
    for r in rows: print(f"{r['refiner']:<58}{r['part']:>6}{r['n']:>6}{r['overlap_f1']:>8.2f}{r['char_p']:>8.2f}{r['char_r']:>8.2f}{r['char_f1']:>8.2f}{r['char_iou']:>8.2f}")
    res = dict(run_record(classifier=args.classifier, data_dir=str(d)), state_terms=state_span_terms(d)[1], state_refiner_version=state.version,
               tagger=dict(folder=args.tagger, fingerprint=meta['fingerprint'], config=meta['config'], data=meta['data'], log=meta['log']),
               learned_chosen=dict(chosen, kinds=list(chosen['kinds'])), learned_version=variant(chosen).version, learned_dev_grid=grid, rows=rows)
    print(f'Written {write_json_atomic(args.out, res)}')
    return res

if __name__ == '__main__': main()
