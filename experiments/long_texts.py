#!/usr/bin/env python
"""Which rule reads long texts best? Window rules compared on dev data, the chosen one reported on test.

Texts longer than `max_length` tokens are read in windows (`Detector`, 07_detector). Candidates:
  truncate           today's rule before windows: the first `max_length` tokens only
  fixed/L/o          windows of L tokens (special tokens included) sharing o tokens (half a window)
  sentences/L        whole sentences packed into windows of at most L tokens
  sentence/L         one sentence a window (a sentence longer than L tokens: fixed windows, half overlap)
each pooled over windows by max (the detector's rule) or mean. Two kinds of long texts:
  cold      COLD texts longer than `max_length` tokens (text labels): AUROC, F1 and recall at the threshold
  end       (end_*) the same with each CNTP sentence at the end of a ~2,000-character post (n/3 posts, and as many
            neutral ones): does the post get flagged, and does a span hit the sentence's gold span?
  embedded  CNTP toxic sentences (gold spans) put at a random place among CNTP non-toxic sentences (half
            of them for dev, the other half for test), and as many neutral-only posts of the same length: recall, FPR, AUROC, and span
            character F1 of the flagged toxic posts against the moved gold spans (and whether any span hits it)
Dev: COLD dev + the CNTP dev slice; test: COLD test + the other CNTP sentences.

    nice .venv/bin/python experiments/long_texts.py --model MODEL --part dev --n 150
    nice .venv/bin/python experiments/long_texts.py --model MODEL --part test --n 150 --rules fixed/64
"""
import argparse, json, random, time
from pathlib import Path

def embedded_posts(cntp, neutral, n, seed, min_chars=300, max_chars=900, at_end=False):
    "(toxic posts, gold spans, neutral posts): `n` CNTP sentences each placed among neutral texts (last with `at_end`), and neutral-only posts as long."
    rng = random.Random(seed)
    rows = cntp.sample(min(n, len(cntp)), random_state=seed).to_dict('records')
    pool = [t for t in neutral if t]
    tox, gold, neu = [], [], []
    for r in rows:
        target = rng.randint(min_chars, max_chars)
        parts = []
        while sum(map(len, parts)) < target: parts.append(rng.choice(pool))
        k = len(parts) if at_end else rng.randint(0, len(parts))
        before = ''.join(parts[:k])
        tox.append(before + r['text'] + ''.join(parts[k:]))
        gold.append([(a + len(before), b + len(before)) for a, b in r['spans']])
        filler = []
        while sum(map(len, filler)) < len(tox[-1]): filler.append(rng.choice(pool))
        neu.append(''.join(filler))
    return tox, gold, neu

def char_f1(pred, gold, n):
    "Character F1 of span lists over a text of n characters (0.0 when both are empty)."
    import numpy as np
    p, g = np.zeros(n, bool), np.zeros(n, bool)
    for a, b in pred: p[a:b] = True
    for a, b in gold: g[a:b] = True
    tp = (p & g).sum()
    return 0.0 if tp == 0 else float(2 * tp / (p.sum() + g.sum()))

def pooled(det, texts, batch_size):
    "(max-pooled, mean-pooled) P(toxic) per text, and the number of windows read."
    import numpy as np
    enc = det.encode(texts)
    wp, owner = det.window_proba(enc, batch_size), np.asarray(enc.owner)
    mx = np.array([wp[owner == i].max() for i in range(len(texts))])
    mean = np.array([wp[owner == i].mean() for i in range(len(texts))])
    return mx, mean, len(enc)

def detector_for(base, rule):
    "A copy of `base` reading long texts by `rule` ('truncate', 'fixed/L', 'sentences/L', 'sentence/L')."
    from toxitrace.detector import Detector
    kw = dict(long_texts='truncate') if rule == 'truncate' else dict(window_rule=rule.split('/')[0], window_length=int(rule.split('/')[1]))
    return Detector(base.model, base.tokenizer, base.max_length, base.threshold, **kw)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True); ap.add_argument('--part', default='dev', choices=['dev', 'test'])
    ap.add_argument('--n', type=int, default=150, help='embedded toxic posts (and as many neutral ones); COLD long texts: up to 4n')
    ap.add_argument('--rules', default='truncate,fixed/64,sentences/64,sentence/64')
    ap.add_argument('--seed', type=int, default=0); ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', default=None)
    args = ap.parse_args(argv)
    import warnings, numpy as np, torch
    from sklearn.metrics import f1_score, roc_auc_score
    from toxitrace.data import load_dataset, span_eval_frame, resolve_data_dir
    from toxitrace.detector import Detector
    from toxitrace.model import encode_texts
    warnings.filterwarnings('ignore')
    torch.set_num_threads(args.threads)
    base = Detector.from_pretrained(args.model)
    cold = load_dataset('cold', 'dev' if args.part == 'dev' else 'test')
    enc = encode_texts(base.tokenizer, cold.text.tolist(), base.max_length)
    long = cold[np.asarray(enc.truncated)].sample(frac=1, random_state=args.seed).head(4 * args.n)
    cntp = span_eval_frame(resolve_data_dir(None), 0, args.seed, part='dev' if args.part == 'dev' else 'test')
    non = load_dataset('cntp', 'non_toxic').sample(frac=1, random_state=0).text.tolist()
    tox, gold, neu = embedded_posts(cntp, non[:len(non) // 2] if args.part == 'dev' else non[len(non) // 2:], args.n, args.seed)
    tox_end, gold_end, neu_end = embedded_posts(cntp, non[:len(non) // 2] if args.part == 'dev' else non[len(non) // 2:], args.n // 3,
                                                args.seed + 1, 1900, 2100, at_end=True)
    y_cold, y_emb = long.label.to_numpy(), np.r_[np.ones(len(tox)), np.zeros(len(neu))]
    res = dict(part=args.part, model=args.model, max_length=base.max_length, threshold=base.threshold, n_cold_long=len(long),
               n_cold_long_toxic=int(y_cold.sum()), n_embedded=len(tox), mean_post_chars=float(np.mean([len(t) for t in tox])), rules={})
    for rule in args.rules.split(','):
        det, t0 = detector_for(base, rule), time.perf_counter()
        cm, cmean, _ = pooled(det, long.text.tolist(), 32)
        em, emean, n_win = pooled(det, tox + neu, 32)
        row = {}
        for pool, pc, pe in (('max', cm, em), ('mean', cmean, emean)):
            row[pool] = dict(cold_auroc=roc_auc_score(y_cold, pc), cold_f1=f1_score(y_cold, pc >= det.threshold),
                             cold_recall=float((pc[y_cold == 1] >= det.threshold).mean()),
                             cold_fpr=float((pc[y_cold == 0] >= det.threshold).mean()),
                             emb_auroc=roc_auc_score(y_emb, pe), emb_recall=float((pe[:len(tox)] >= det.threshold).mean()),
                             emb_fpr=float((pe[len(tox):] >= det.threshold).mean()))
        out = det.predict(tox, progress=False)                     # classify, then explain: spans of flagged posts
        f1 = [char_f1([(s['start'], s['stop']) for s in r['spans']], g, len(r['text'])) for r, g in zip(out, gold) if r['label']]
        row['max'].update(emb_span_f1=float(np.mean(f1)) if f1 else 0.0, emb_span_hit=float(np.mean([x > 0 for x in f1])) if f1 else 0.0)
        pe_end = det.proba(tox_end + neu_end)
        out = det.predict(tox_end, progress=False)
        f1 = [char_f1([(s['start'], s['stop']) for s in r['spans']], g, len(r['text'])) for r, g in zip(out, gold_end)]
        row['max'].update(end_recall=float((pe_end[:len(tox_end)] >= det.threshold).mean()), end_fpr=float((pe_end[len(tox_end):] >= det.threshold).mean()),
                          end_auroc=roc_auc_score(np.r_[np.ones(len(tox_end)), np.zeros(len(neu_end))], pe_end),
                          end_span_f1=float(np.mean(f1)), end_span_hit=float(np.mean([x > 0 for x in f1])))
        row.update(windows_per_post=n_win / len(tox + neu), seconds=round(time.perf_counter() - t0, 1))
        res['rules'][rule] = row
        print(rule, json.dumps({k: {kk: round(vv, 3) for kk, vv in v.items()} if isinstance(v, dict) else v for k, v in row.items()}), flush=True)
    if args.out: Path(args.out).write_text(json.dumps(res, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')

if __name__ == '__main__': main()
