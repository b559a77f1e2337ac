#!/usr/bin/env python
"""Table 2 on CNTP for the small preset (me5-small-zh, first 6 layers, mean pooling), on CPU.

Two models:
  untrained  the pretrained encoder with a randomly initialised head (seeded);
  warmup     cross-entropy warm-up (04_model's Learner, Appendix B learning rates, cosine) on a stratified
             ToxiCN train sample from which every CNTP sentence is removed (so no CNTP sentence is seen in
             training); saved to --model-dir and reused when the configuration matches.
For each: saliency (Eq. 1) and last-layer attention on all 2,533 toxic CNTP sentences; saliency, attention and
integrated gradients on a seeded random sample (--ig-sample) because IG costs --ig-steps forward+backward passes.
Each attribution is cut by BiCSE and by top-15%, "given toxic" and end to end; the 482-sentence leakage-free
subset (CNTP sentences in ToxiCN test) is reported too. Writes JSON with config, versions, machine and git commit;
nbs/12_evaluation.ipynb and reports/reproduction.ipynb print it.

    .venv/bin/python experiments/cntp_spans.py                       # the full run (about an hour on 2 busy cores)
    .venv/bin/python experiments/cntp_spans.py --quick               # a smoke run: 200 sentences, tiny warm-up
"""
import argparse, json, sys, time, warnings
from pathlib import Path

def warm_up(args, data_dir, folder:Path):
    "Warm up the small preset on a ToxiCN train sample without CNTP sentences; reuse `folder` if its config matches."
    from fastai.torch_core import set_seed
    from toxitrace.data import stratified_sample
    from toxitrace.data import load_dataset
    from toxitrace.model import ToxicityClassifier, fit_cosine, load_classifier, load_encoder, preset, save_classifier, text_dataloaders, warmup_learner
    p = preset('small')
    want = dict(data='toxicn train minus CNTP', train_size=args.train_size, valid_size=args.valid_size, epochs=args.epochs,
                seed=args.seed, **{k: p[k] for k in ('encoder', 'num_hidden_layers', 'pooling', 'max_length', 'bs', 'enc_lr', 'head_lr')})
    meta = folder/'toxitrace.json'
    if meta.exists() and json.loads(meta.read_text())['metadata'].get('config') == want:
        print(f'Reusing the warm-up classifier in {folder}.')
        return load_classifier(folder)[:2], json.loads(meta.read_text())['metadata']
    cntp = set(load_dataset('cntp', 'toxic', data_dir)['text'])
    train = load_dataset('toxicn', 'train', data_dir)
    n0 = len(train)
    train = train[~train['text'].isin(cntp)]
    print(f'ToxiCN train: {n0} texts, {len(train)} after removing CNTP sentences')
    set_seed(args.seed, reproducible=True)
    pool = stratified_sample(train, args.train_size + args.valid_size, args.seed)
    tr, va = pool.iloc[:args.train_size], pool.iloc[args.train_size:]
    encoder, tok = load_encoder(p['encoder'], p['num_hidden_layers'])
    learn = warmup_learner(text_dataloaders(tr, va, tok, p['max_length'], p['bs']), ToxicityClassifier(encoder, pooling=p['pooling']))
    t0 = time.time()
    fit_cosine(learn, args.epochs, lrs=(p['enc_lr'], p['head_lr']))
    history = [dict(zip(learn.recorder.metric_names[1:-1], map(float, v))) for v in learn.recorder.values]
    save_classifier(folder, learn.model, tok, p['max_length'], config=want, history=history, train_seconds=round(time.time() - t0, 1),
                    n_train=len(tr), n_valid=len(va))
    return (learn.model.eval(), tok), json.loads(meta.read_text())['metadata']

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--models', default='untrained,warmup')
    ap.add_argument('--train-size', type=int, default=2000)
    ap.add_argument('--valid-size', type=int, default=300)
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--model-dir', default='outputs/cntp_spans/warmup')
    ap.add_argument('--sample', type=int, default=0, help='evaluate saliency/attention on a random sample (0: all of CNTP)')
    ap.add_argument('--ig-sample', type=int, default=500)
    ap.add_argument('--limit', type=int, default=0, help='ToxiCN test texts for the classification scores (0: all; --quick: 200)')
    ap.add_argument('--ig-steps', type=int, default=20)
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--data-dir', default=None, help='the data folder (default: toxitrace.data.resolve_data_dir)')
    ap.add_argument('--model', default=None, help="a saved classifier folder, scored as the one model 'given' instead of --models (for smoke runs)")
    ap.add_argument('--quick', action='store_true', help='smoke run: --sample 200 --ig-sample 40 --ig-steps 4 --train-size 64 --epochs 1')
    ap.add_argument('--out', default='experiments/results/cntp_spans.json')
    args = ap.parse_args(argv)
    if args.quick: args.sample, args.ig_sample, args.ig_steps, args.train_size, args.valid_size, args.epochs = 200, 40, 4, 64, 32, 1

    import torch
    from toxitrace.runs import run_record
    from toxitrace.data import SpanWarning, load_dataset, resolve_data_dir, cntp_leakage_free_ids
    from toxitrace.detector import Detector
    from toxitrace.evaluation import cntp_span_rows, span_table
    from toxitrace.model import ToxicityClassifier, load_classifier, load_encoder, predict_proba, preset
    from toxitrace.evaluation import classification_scores
    warnings.filterwarnings('ignore', category=SpanWarning)
    data_dir = resolve_data_dir(args.data_dir)
    p = preset('small')
    res = dict(run_record(**vars(args)), leakage_free_n=len(cntp_leakage_free_ids(data_dir)), models={})
    out = Path(args.out); out.parent.mkdir(parents=True, exist_ok=True)
    t_all = time.time()
    for name in (['given'] if args.model else args.models.split(',')):
        t0 = time.time()
        if name == 'untrained':
            torch.manual_seed(args.seed)
            enc, tok = load_encoder(p['encoder'], p['num_hidden_layers'])
            model, meta = ToxicityClassifier(enc, pooling=p['pooling']).eval(), {}
            desc = f"{p['encoder']} first {p['num_hidden_layers']} layers, {p['pooling']} pooling, randomly initialised head (seed {args.seed})"
        elif name == 'warmup':
            (model, tok), meta = warm_up(args, data_dir, Path(args.model_dir))
            desc = (f"same encoder, warmed up {args.epochs} epoch(s) on {args.train_size} ToxiCN train texts without CNTP sentences "
                    f"(stratified, seed {args.seed}), validated on {args.valid_size} more")
        elif name == 'given':
            model, tok, meta = load_classifier(args.model)
            desc, meta = f'the classifier in {args.model}', {}
        else: raise SystemExit(f'unknown model {name!r}')
        det = Detector(model, tok, max_length=p['max_length'])
        m = dict(description=desc, train_seconds=meta.get('train_seconds'), history=meta.get('history'), rows=[])
        test = load_dataset('toxicn', 'test', data_dir)
        if args.quick: test = test.iloc[:200]
        if args.limit: test = test.iloc[:args.limit]
        probs = predict_proba(model, tok, test['text'].tolist(), p['max_length'])
        m['classification'] = dict(dataset=f'ToxiCN test ({len(test)})', **classification_scores(test['label'], probs.argmax(1)))
        print(f"== {name}: ToxiCN test acc {m['classification']['acc']:.4f} f1 {m['classification']['f1']:.4f}")
        m['rows'] += cntp_span_rows(det, data_dir, ('saliency', 'attention'), leakage_free=True, sample=args.sample or None,
                                    seed=args.seed, batch_size=args.batch_size)
        m['rows'] += cntp_span_rows(det, data_dir, ('saliency', 'attention', 'ig'), sample=args.ig_sample, seed=args.seed,
                                    batch_size=args.batch_size, ig_steps=args.ig_steps)
        m['seconds'] = round(time.time() - t0, 1)
        res['models'][name] = m
        print(span_table(m['rows']).to_string(index=False))
        res['wall_s'] = round(time.time() - t_all, 1)
        out.write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding='utf-8')   # after each model
    print(f'Written {out}')

if __name__ == '__main__': sys.exit(main())
