#!/usr/bin/env python
"""Time per joint training step on the small preset, on the same COLD batches, for

  (1) CE only            the warm-up step (cross-entropy; the joint Learner with both extra losses switched off);
  (2) CE + GCLoss        + λ_grad (PGR + PPT) on the embedding-gradient norms of the same forward pass (double backward);
  (3) CE + GCLoss + ARCL + λ_sem L_con, both reasoning batches through the encoder in the same step.

Every step is a real fastai training step (`Learner.one_batch`: forward, callbacks, backward, AdamW step) of
`toxitrace.joint`'s Learner; the three variants run batch by batch in rotating order, each step repeated `--repeats`
times and the minimum kept, so that load from other processes hits all three alike. Stamps between the callbacks
split each step into: forward, CE, GCLoss (the create_graph input gradient + PGR/PPT), ARCL (reasoning encoder pass +
loss), backward, optimizer step.

Toxic tokens come from the STATE/ToxiCN lexicon terms of each toxic text (its first clause when it has none), the
reasonings from the offline template generator: the cost of a step does not depend on which tokens are marked.
Goal: (2) <= 3 x (1).

Where the time goes (2 CPU cores shared with other work, 1 torch thread, 6 batches of 32, max_length 64: 1,126 text
and 3,032 reasoning tokens per batch; two runs gave CE + GCLoss = 2.01x and 1.96x, + ARCL = 4.48x and 4.53x):
  * CE step (~2 s): forward 37 %, backward 55 %, AdamW 8 %.
  * GCLoss adds ~0.6 s for the create_graph input-gradient pass (a backward to the word embeddings that records its
    own graph) and makes the final backward ~2.2x longer (it runs back through that gradient graph: the double
    backward). PGR/PPT themselves are milliseconds; the math attention kernel costs nothing measurable in the forward.
    Matrix multiplies are ~75 % of the CE + GCLoss step's operator time (--profile).
  * ARCL encodes 64 reasonings per batch of 32 texts, 2.7x the texts' tokens (template reasonings are ~65 characters):
    ~2 s forward in the step and ~3.4 s more backward. Shorter reasonings (reason_max_length) cut it proportionally.

    .venv/bin/python benchmarks/train_step.py                         # 8 batches of 32, 3 repeats
    .venv/bin/python benchmarks/train_step.py --threads 1 --batches 4
"""
import argparse, json, os, sys, time, warnings
from pathlib import Path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--batches', type=int, default=8, help='number of training batches (seeded random COLD train texts)')
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--max-length', type=int, default=None, help='default: the small preset of toxitrace.joint')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--threads', type=int, default=0, help='torch intra-op threads (0: leave the default)')
    ap.add_argument('--profile', action='store_true', help='also print the top operators of one CE + GCLoss step')
    ap.add_argument('--data-dir', default=None, help='the data folder (default: toxitrace.data.resolve_data_dir)')
    ap.add_argument('--model', default=None, help="a saved classifier folder to start from (default: the small preset's encoder, new head)")
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='benchmarks/results/train_step.json')
    args = ap.parse_args(argv)

    import numpy as np, torch
    from fastai.callback.core import Callback
    from fastai.torch_core import set_seed
    from toxitrace.reasoning import TemplateReasoner, find_terms, first_clause, generate_reasonings, lexicon_table
    from toxitrace.runs import run_record
    from toxitrace.data import load_dataset, resolve_data_dir
    from toxitrace.joint import JointBatch, add_toxitrace, joint_dataloaders
    from toxitrace.pipeline import joint_preset
    from toxitrace.model import ToxicityClassifier, load_classifier, load_encoder, warmup_learner

    warnings.filterwarnings('ignore', message='.*torch.jit.*')
    if args.threads: torch.set_num_threads(args.threads)
    p = joint_preset('small')
    max_length = args.max_length or p['max_length']
    data_dir = resolve_data_dir(args.data_dir)
    n = args.batches * args.batch_size
    df = load_dataset('cold', 'train', data_dir).sample(n, random_state=args.seed).reset_index(drop=True)
    table = lexicon_table(data_dir)

    def toxic_spans(text, label):
        if not label: return []
        hits = [(a, b) for a, b, _ in find_terms(text, table)]
        if hits: return hits
        c = first_clause(text)
        return [(text.index(c), text.index(c) + len(c))] if c else []
    df['spans'] = [toxic_spans(t, l) for t, l in zip(df.text, df.label)]
    r = generate_reasonings(df, TemplateReasoner(table))
    df['tox_reason'], df['nor_reason'] = r.tox_reason, r.nor_reason

    if args.model: model, tok = load_classifier(args.model)[:2]
    else:
        encoder, tok = load_encoder(p['encoder'], p['num_hidden_layers'])
        set_seed(args.seed)
        model = ToxicityClassifier(encoder, pooling=p['pooling'])
    dls = joint_dataloaders(df, df.head(args.batch_size), tok, max_length, args.batch_size, p['reason_max_length'])
    set_seed(args.seed)
    batches = list(dls.train)
    init = {k: v.clone() for k, v in model.state_dict().items()}

    class Stamp(Callback):
        "Records the time at one event, between the joint callbacks (its `order`)."
        def __init__(self, event, name, order, log):
            self.order, self.phase, self.log = order, name, log
            setattr(self, event, lambda: self.log.append((self.phase, time.perf_counter())))

    variants = {'CE only': dict(gcloss=False, arcl=False), 'CE + GCLoss': dict(arcl=False), 'CE + GCLoss + ARCL': {}}
    learners, logs = {}, {}
    for name, kw in variants.items():
        log = logs[name] = []
        learn = add_toxitrace(warmup_learner(dls, model), lambda_grad=0.8, lambda_sem=0.5, **kw)
        learn.add_cbs([Stamp('before_batch', 'start', JointBatch.order - 1, log), Stamp('after_pred', 'forward', 100, log),
                       Stamp('after_loss', 'CE', JointBatch.order + .5, log), Stamp('after_loss', 'GCLoss', JointBatch.order + 1.5, log),
                       Stamp('after_loss', 'ARCL', JointBatch.order + 2.5, log), Stamp('after_backward', 'backward', 100, log),
                       Stamp('after_step', 'step', 100, log)])
        learners[name] = learn

    def step(name, k):
        "One training step of variant `name` on batch `k`, from the initial weights: seconds per phase."
        learn, log = learners[name], logs[name]
        model.load_state_dict(init)
        learn.create_opt(); learn.opt.set_hypers(lr=np.array([p['enc_lr'], p['head_lr']]) * 0)   # lr 0: same weights every time
        learn.n_epoch, learn.epoch, learn.dl, learn.n_iter = 1, 0, dls.train, len(batches)
        with learn.no_bar(), learn.no_logging():
            learn('before_fit'); learn('before_epoch'); learn('before_train')
            log.clear()
            t0 = time.perf_counter(); learn.one_batch(k, batches[k]); total = time.perf_counter() - t0
            learn('after_train'); learn('after_epoch'); learn('after_fit')
        phases, last = {}, log[0][1]
        for ph, t in log[1:]: phases[ph], last = phases.get(ph, 0) + t - last, t
        return total, phases

    for name in variants: step(name, 0)                                   # warm-up
    names = list(variants)
    best = {nm: [None] * len(batches) for nm in names}
    load = [os.getloadavg()]
    t_all = time.perf_counter()
    for k in range(len(batches)):
        for rep in range(args.repeats):
            for j in range(len(names)):
                nm = names[(j + k + rep) % len(names)]
                res = step(nm, k)
                if best[nm][k] is None or res[0] < best[nm][k][0]: best[nm][k] = res
    load.append(os.getloadavg())

    rows = {}
    for nm in names:
        total = sum(t for t, _ in best[nm])
        ph = {}
        for _, phases in best[nm]:
            for a, s in phases.items(): ph[a] = ph.get(a, 0) + s
        rows[nm] = dict(seconds=round(total, 3), per_step_s=round(total / len(batches), 3),
                        phases_s={a: round(s / len(batches), 4) for a, s in ph.items() if s > 5e-4})
    ce = rows['CE only']['seconds']
    for nm in names: rows[nm]['x_ce'] = round(rows[nm]['seconds'] / ce, 3)

    prof = None
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU]) as pr: step('CE + GCLoss', 0)
        prof = pr.key_averages().table(sort_by='self_cpu_time_total', row_limit=15)

    tokens = [int(b[1].sum()) for b in batches]
    reason_tokens = [int(b[5].sum() + b[7].sum()) for b in batches]
    res = dict(run_record(batches=args.batches, batch_size=args.batch_size, max_length=max_length, repeats=args.repeats,
                          threads=torch.get_num_threads(), encoder=args.model or f"{p['encoder']} ({p['num_hidden_layers']} layers)",
                          pooling=p['pooling'], reason_max_length=p['reason_max_length'], seed=args.seed),
               mean_text_tokens_per_batch=float(np.mean(tokens)), mean_padded_shape=[float(np.mean([b[0].shape[i] for b in batches])) for i in (0, 1)],
               mean_reason_tokens_per_batch=float(np.mean(reason_tokens)), toxic_samples=int(df.label.sum()),
               load_average_before_after=load, results=rows,
               ratios={'CE+GCLoss / CE': rows['CE + GCLoss']['x_ce'], 'CE+GCLoss+ARCL / CE': rows['CE + GCLoss + ARCL']['x_ce']},
               goal_gcloss_le_3x_ce=rows['CE + GCLoss']['x_ce'] <= 3, wall_s=round(time.perf_counter() - t_all, 1))

    print(f"small preset, {len(batches)} COLD batches of {args.batch_size} (max_length {max_length}; {res['mean_text_tokens_per_batch']:.0f} text "
          f"tokens and {res['mean_reason_tokens_per_batch']:.0f} reasoning tokens per batch), {torch.get_num_threads()} torch threads, "
          f"minimum of {args.repeats} repeats, load average {load[0][0]:.1f} -> {load[1][0]:.1f}")
    phases = ['forward', 'CE', 'GCLoss', 'ARCL', 'backward', 'step']
    print(f"{'':<22}{'s/step':>8}{'x CE':>7}" + ''.join(f'{a:>10}' for a in phases))
    for nm, r in rows.items():
        print(f"{nm:<22}{r['per_step_s']:>8.3f}{r['x_ce']:>7.2f}" + ''.join(f"{r['phases_s'].get(a, 0):>10.3f}" for a in phases))
    print(f"CE + GCLoss = {rows['CE + GCLoss']['x_ce']:.2f} x CE (goal <= 3: {'met' if res['goal_gcloss_le_3x_ce'] else 'NOT met'}); "
          f"CE + GCLoss + ARCL = {rows['CE + GCLoss + ARCL']['x_ce']:.2f} x CE")
    if prof: print(prof)
    out = Path(args.out); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding='utf-8')
    print(f'Written {out}')


if __name__ == '__main__': sys.exit(main())
