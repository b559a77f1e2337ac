#!/usr/bin/env python
"""The LoRA learning rate of the small preset (issue #28), chosen on COLD dev: a LoRA warm-up (stage 1 of
`train_toxitrace` with `--init`, `--lora` and `--lora-lr`: the pipeline's own `warmup_model`, so a probe is the run's
warm-up batch for batch, the head at the preset's rate; no run folder is written) of the --init classifier on a
stratified sample of COLD train, scored after each epoch on a stratified sample of COLD dev, for each adapter
learning rate and seed. Never looks at COLD test. Prints a table (final-epoch Macro-F1 per rate,
mean ± sample std over the seeds it ran) and writes JSON with the command, machine, versions, git commit and each
probe's per-epoch history and wall time; probes already in --out with the same settings are kept and
skipped, so a stopped run continues and runs with other seeds or rates join it.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/lora_lr.py --seeds 0 --lrs 5e-5 5e-4 1e-3 2e-3 5e-3
"""
import argparse, contextlib, io, json, time
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
    torch.set_num_threads(args.threads)
    from toxitrace.runs import run_record, write_json_atomic
    from toxitrace.data import data_record, resolve_data_dir
    from toxitrace.decoders import trainable_parameters
    from toxitrace.joint import history_rows
    from toxitrace.pipeline import resolve_config, run_data, warmup_model
    d = resolve_data_dir(args.data_dir)
    run_cfg = lambda seed, lr=None: resolve_config(preset='small', dataset='cold', data_dir=str(d), init=str(args.init), lora=args.rank, lora_lr=lr,
                                              seed=seed, train_size=args.train_size, valid_size=args.valid_size, warmup_epochs=args.epochs,
                                              max_length=args.max_length, bs=args.bs, evaluate=False)
    head_lr = run_cfg(0)['warmup_lrs'][1]                    # None: the preset's LoRA rate; the head's is the same for all
    settings = dict(init=str(args.init), rank=args.rank, epochs=args.epochs, train_size=args.train_size, valid_size=args.valid_size,
                    max_length=args.max_length, bs=args.bs, head_lr=head_lr, batch_order='EpochSeed')
    out = Path(args.out)
    old = json.loads(out.read_text(encoding='utf-8')) if out.exists() else None
    probes = old['probes'] if old and old.get('settings') == settings else []
    done = {(p['seed'], p['lora_lr']) for p in probes}
    for seed in args.seeds:
        fr = run_data(run_cfg(seed))
        for lr in args.lrs:
            if (seed, lr) in done: continue
            t0 = time.time()
            with contextlib.redirect_stdout(io.StringIO()):            # fastai's per-epoch rows: the history below has them
                learn, _ = warmup_model(run_cfg(seed, lr), fr['train'], fr['valid'], out.parent)
            probes.append(dict(seed=seed, lora_lr=lr, seconds=round(time.time() - t0, 1), trainable=trainable_parameters(learn.model), history=history_rows(learn)))
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
