"""Table 2 at the kit's scale (issue #25): top-k, attention, IG, LIME (saliency-style attributions of a CE-only warm-up,
each cut by top-15% and BiCSE) and a CRF tagger trained on the warm-up's CuSA weak labels (offline `state` refiner),
on a seeded sample of CNTP toxic sentences, beside the paper's rows.

    nice .venv/bin/python experiments/table2_small.py [--train-size 1000] [--n 300] [--lime-samples 100]

Writes experiments/results/table2-small-cold<train-size>.json (the run folder is outputs/table2-small-cold<train-size>)."""
import argparse, json, sys, time
from pathlib import Path

import torch
from toxitrace.cusa import state_refiner
from toxitrace.data import resolve_data_dir, span_eval_frame
from toxitrace.detector import Detector
from toxitrace.pipeline import ToxiTraceRun, resolve_config, run_data
from toxitrace.runs import run_record, write_json_atomic
from toxitrace.span_baselines import PAPER_TABLE2_ROWS, table2_frame, table2_rows, train_crf

p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
p.add_argument('--train-size', type=int, default=1000); p.add_argument('--n', type=int, default=300)
p.add_argument('--seed', type=int, default=0); p.add_argument('--lime-samples', type=int, default=100)
p.add_argument('--ig-steps', type=int, default=20); p.add_argument('--crf-epochs', type=int, default=30)
p.add_argument('--threads', type=int, default=1)
p.add_argument('--warmup-dir', default=None, help='a classifier folder to use as the warm-up instead of training one')
p.add_argument('--run-dir', default=None, help='the run folder (default: outputs/table2-small-cold<train-size>)')
p.add_argument('--out', default=None, help='the results JSON (default: experiments/results/table2-small-cold<train-size>.json)')
p.add_argument('--data-dir', default=None)
a = p.parse_args()
torch.set_num_threads(a.threads)
t_all = time.time()
name = f'table2-small-cold{a.train_size}'
cfg = resolve_config(dict(out=a.run_dir or f'outputs/{name}', train_size=a.train_size, seed=a.seed, no_gcloss=True, no_arcl=True,
                          refiner='state', warmup_dir=a.warmup_dir, data_dir=a.data_dir))
run = ToxiTraceRun(cfg, run_data(cfg), progress=False)
t0 = time.time(); model, tok = run.warmup(); t_warm = time.time() - t0           # CE-only warm-up (resumed when done)
t0 = time.time(); ann = run.cusa(model, tok, state_refiner(resolve_data_dir(a.data_dir))); t_cusa = time.time() - t0
tox = ann[ann.label == 1]
t0 = time.time()
crf = train_crf(model.encoder, tok, tox.text.tolist(), tox.spans.tolist(), cfg['max_length'], epochs=a.crf_epochs, seed=a.seed)
t_crf = time.time() - t0
cntp = span_eval_frame(resolve_data_dir(a.data_dir), a.n, a.seed)
det = Detector(model.eval(), tok, max_length=cfg['max_length'])
rows = table2_rows(det, cntp.text.tolist(), cntp.spans.tolist(), crf=crf, lime_samples=a.lime_samples, ig_steps=a.ig_steps)
table = table2_frame(rows)
print(table.to_string())
out = Path(a.out or Path('experiments/results')/f'{name}.json')
write_json_atomic(out, dict(
    command='nice .venv/bin/python experiments/table2_small.py ' + ' '.join(sys.argv[1:]),
    note=f'CE-only warm-up (small preset, {a.train_size} COLD train texts, seed {a.seed}) scored on {len(cntp)} CNTP toxic sentences '
         f'(span_eval_frame seed {a.seed}), given toxic; CRF: pytorch-crf over the warm-up encoder\'s frozen token features, trained on '
         f'the CuSA weak labels (state refiner) of its {len(tox)} toxic training texts. Seconds: inference on the {len(cntp)} sentences.',
    options=vars(a), run=run_record(**cfg), seconds=dict(warmup=round(t_warm, 1), cusa=round(t_cusa, 1), crf_train=round(t_crf, 1),
                                                         total=round(time.time() - t_all, 1)),
    stages={k: dict(seconds=v.get('seconds'), finished=v.get('finished')) for k, v in run.state.stages.items()},  # when resumed: the first run's times
    rows=rows, paper={k: dict(values=v, time=t) for k, (v, t) in PAPER_TABLE2_ROWS.items()}, table=table.reset_index().to_dict('records')), indent=1)
print(f'-> {out} ({time.time() - t_all:.0f} s)')
