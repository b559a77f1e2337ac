#!/usr/bin/env python
"""The LoRA learning rate of the small preset (issue #28), chosen on COLD dev: a LoRA warm-up (stage 1 of
`train_toxitrace` with `--init` and `--lora`: open_init -> adapt -> warmup_learner -> fit_cosine with the stage's
per-epoch seeding (EpochSeed), so a probe is the run's warm-up batch for batch; the head at the preset's rate) of the
--init classifier on a stratified sample of COLD train, scored after each epoch on a stratified sample of COLD dev,
for each adapter learning rate and seed. Never looks at COLD test. Prints a table (final-epoch Macro-F1 per rate,
mean ± sample std over the seeds it ran) and writes JSON with the command, machine, versions, git commit and each
probe's per-epoch history and wall time; probes already in --out with the same settings are kept and
skipped, so a stopped run continues and runs with other seeds or rates join it.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/lora_lr.py --seeds 0 --lrs 5e-5 5e-4 1e-3 2e-3 5e-3
"""
import argparse, json, time
from pathlib import Path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--init', default='../shared/models/me5-small-zh', help='the classifier or checkpoint LoRA adapts (as toxitrace train --init)')
    ap.add_argument('--lrs', type=float, nargs='+', default=[5e-5, 5e-4, 1e-3, 2e-3, 5e-3], help='adapter learning rates to probe')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--rank', type=int, default=8); ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--train-size', type=int, default=1000); ap.add_argument('--valid-size', type=int, default=200, help='COLD dev texts (stratified)')
    ap.add_argument('--max-length', type=int, default=64); ap.add_argument('--bs', type=int, default=32)
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--data-dir', default=None)
    ap.add_argument('--out', default='experiments/results/lora-lr.json')
    args = ap.parse_args(argv)
    if min(args.lrs) <= 0: ap.error('--lrs must be > 0')
    import numpy as np, torch
    from fastai.torch_core import set_seed
    torch.set_num_threads(args.threads)
    from toxitrace.runs import run_record, write_json_atomic
    from toxitrace.data import data_record, resolve_data_dir
    from toxitrace.model import preset, warmup_learner, fit_cosine
    from toxitrace.decoders import adapt, open_init, trainable_parameters
    from toxitrace.joint import EpochSeed, plain_dataloaders, history_rows
    from toxitrace.pipeline import run_data
    d, head_lr = resolve_data_dir(args.data_dir), preset('small')['head_lr']
    settings = dict(init=str(args.init), rank=args.rank, epochs=args.epochs, train_size=args.train_size, valid_size=args.valid_size,
                    max_length=args.max_length, bs=args.bs, head_lr=head_lr, batch_order='EpochSeed')
    out = Path(args.out)
    old = json.loads(out.read_text(encoding='utf-8')) if out.exists() else None
    probes = old['probes'] if old and old.get('settings') == settings else []
    done = {(p['seed'], p['lora_lr']) for p in probes}
    for seed in args.seeds:
        fr = run_data(dict(data_dir=d, dataset='cold', seed=seed, train_size=args.train_size, valid_size=args.valid_size,
                           evaluate=False, lexicon_only=False))
        for lr in args.lrs:
            if (seed, lr) in done: continue
            set_seed(seed, reproducible=True)
            model, tok = open_init(args.init, seed)
            model = adapt(model, lora=args.rank)
            learn = warmup_learner(plain_dataloaders(fr['train'], fr['valid'], tok, args.max_length, args.bs), model, path=out.parent)
            t0 = time.time()
            with learn.no_bar(), learn.no_logging(): fit_cosine(learn, args.epochs, lrs=[lr, head_lr], cbs=[EpochSeed(seed)])
            probes.append(dict(seed=seed, lora_lr=lr, seconds=round(time.time() - t0, 1), trainable=trainable_parameters(model), history=history_rows(learn)))
            rates = sorted({p['lora_lr'] for p in probes})
            final = {r: [p['history'][-1]['macro_f1'] for p in probes if p['lora_lr'] == r] for r in rates}
            summary = {f'{r:g}': dict(n=len(v), macro_f1=float(np.mean(v)), std=float(np.std(v, ddof=1)) if len(v) > 1 else 0.0) for r, v in final.items()}
            write_json_atomic(out, dict(run_record(data_record(d), **vars(args)), settings=settings, probes=probes, summary=summary))
            print(f"seed {seed}, lora_lr {lr:g}: dev Macro-F1 per epoch {[round(h['macro_f1'], 3) for h in probes[-1]['history']]} ({probes[-1]['seconds']:.0f} s)", flush=True)
    res = json.loads(out.read_text(encoding='utf-8'))
    print(f"\nCOLD dev Macro-F1 after {args.epochs} epochs (mean ± std over seeds):")
    for r, s in res['summary'].items(): print(f"  lora_lr {r:>7}: {100 * s['macro_f1']:.2f} ± {100 * s['std']:.2f} (n={s['n']})")


if __name__ == '__main__':
    main()
