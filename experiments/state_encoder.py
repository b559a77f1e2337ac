#!/usr/bin/env python
"""The encoder extractor of 12e_state (a span tagger for Target and Argument on the small encoder, pairing by
proximity, logistic classifiers for the group and hatefulness), trained on STATE ToxiCN's train part and scored on the
fixed dev split (800 posts; STATE_SPLIT_RULES), hard and soft F1 on the five tasks, for several seeds: mean ± sample
std, each seed's row, and the STATE paper's fine-tuned rows (its test set, which the kit does not hold) for
reference. Each seed is `toxitrace state train` (run_state_train) with these settings; the extractor folders are kept
under --models. Writes JSON with the command, machine, versions, git commit and wall time.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python experiments/state_encoder.py --train-size 1000 --epochs 2
"""
import argparse, sys, time
from pathlib import Path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--encoder', default=None, help="the encoder folder (default: the small preset's, ../shared/models/me5-small-zh)")
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--epochs', type=int, default=2); ap.add_argument('--train-size', type=int, default=0, help='a seeded sample of the train part (0: all)')
    ap.add_argument('--layers', type=int, default=4, help="the encoder's first layers (default: 4, as 08b's tagger)")
    ap.add_argument('--threshold', type=float, default=0.5)
    ap.add_argument('--models', default='outputs/state-encoder', help='where the extractor folders go (one per seed)')
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--data-dir', default=None)
    ap.add_argument('--out', default='experiments/results/state-encoder.json')
    ap.add_argument('--merge', nargs='+', default=None, metavar='JSON',
                    help='train nothing: join the seeds of these results files (runs of this script with the same settings, one seed each side by side, say) into --out')
    args = ap.parse_args(argv)
    import numpy as np, torch
    torch.set_num_threads(args.threads)
    from toxitrace.runs import run_record, write_json_atomic
    from toxitrace.data import data_record, resolve_data_dir
    from toxitrace.state import PAPER_STATE_ROWS, STATE_COLS, format_state_rows, run_state_train
    d, t0 = resolve_data_dir(args.data_dir), time.time()
    def summary(runs, r, seeds=args.seeds) -> dict:
        "The results JSON of the seeds run so far (written after each seed, so a stopped run keeps them)."
        table = np.array([[x['row'][c] for c in STATE_COLS] for x in runs])
        std = table.std(0, ddof=1) if len(runs) > 1 else np.zeros(len(STATE_COLS))
        return dict(run_record(data_record(d), encoder=r['config']['encoder'], seeds=seeds, epochs=args.epochs, train_size=args.train_size,
                               num_hidden_layers=args.layers, threshold=args.threshold, threads=args.threads),
                    complete=len(runs) == len(seeds), split=r['split'], train_posts=r['train_posts'], dev_posts=r['split']['dev'],
                    metric='F1 x 100 on the STATE dev split', mean={c: round(float(m), 2) for c, m in zip(STATE_COLS, table.mean(0))},
                    std={c: round(float(s), 2) for c, s in zip(STATE_COLS, std)}, runs=runs,
                    paper_rows={k: dict(zip(STATE_COLS, v)) for k, v in PAPER_STATE_ROWS.items()},
                    seconds_per_seed=[x['seconds'] for x in runs], wall_seconds=round(time.time() - t0, 1))
    if args.merge: return merge(args, summary)
    runs = []
    for seed in args.seeds:
        r = run_state_train(Path(args.models)/f'seed{seed}', args.encoder, seed, args.epochs, args.train_size, args.layers, args.threshold,
                            data_dir=d, progress=False)
        runs.append(dict(seed=seed, row=r['row'], seconds=r['seconds'], scores=r['scores'], log=r['log'], train_posts=r['train_posts']))
        print(f"seed {seed}: {r['seconds']:.0f} s, quad soft F1 {r['row']['quad soft']:.2f}", flush=True)
        res = summary(runs, r)
        write_json_atomic(args.out, res)
    print(format_state_rows({f"seed {x['seed']}": x['scores'] for x in runs}, f"Encoder extractor, {len(runs)} seeds (mean ± std below)"))
    print('mean ± std: ' + ', '.join(f"{c} {res['mean'][c]:.2f} ± {res['std'][c]:.2f}" for c in STATE_COLS))
    print(f'Written {args.out} ({res["wall_seconds"]:.0f} s)')


def merge(args, summary):
    "Join the runs of the results files `args.merge` (the same settings: checked) into one results JSON at `args.out`."
    import json
    from toxitrace.runs import write_json_atomic
    parts = [json.loads(Path(f).read_text(encoding='utf-8')) for f in args.merge]
    keys = ('encoder', 'epochs', 'train_size', 'num_hidden_layers', 'threshold')
    if len({tuple(p['config'][k] for k in keys) for p in parts}) != 1: sys.exit(f'state_encoder: --merge: the files differ in {keys}')
    for k in keys[1:]: setattr(args, 'layers' if k == 'num_hidden_layers' else k, parts[0]['config'][k])
    runs = sorted((x for p in parts for x in p['runs']), key=lambda x: x['seed'])
    r = dict(config=parts[0]['config'], split=parts[0]['split'], train_posts=parts[0]['train_posts'])
    res = summary(runs, r, [x['seed'] for x in runs])
    res |= dict(merged_from=[dict(file=str(f), command=p['command'], seeds=[x['seed'] for x in p['runs']], wall_seconds=p['wall_seconds'],
                                  machine=p['machine'], date=p['date']) for f, p in zip(args.merge, parts)],
                wall_seconds=max(p['wall_seconds'] for p in parts))
    write_json_atomic(args.out, res)
    print('mean ± std: ' + ', '.join(f"{c} {res['mean'][c]:.2f} ± {res['std'][c]:.2f}" for c in res['mean']))
    print(f'Written {args.out} (seeds {[x["seed"] for x in runs]})')


if __name__ == '__main__':
    sys.exit(main())
