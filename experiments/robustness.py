#!/usr/bin/env python
"""Robustness to cloaking (12b_robustness) of saved detectors, with and without the normaliser (02c_perturb).

For each --model and each --settings entry, `robustness_report` on --n CNTP toxic sentences of --part (gold spans,
perturbed by each of the eight cloaking types) and --n non-toxic ones, seeded. Settings:
  plain         the paper's setting: no normalisation
  norm          the lexicon normaliser (STATE ToxiCN + ToxiCN lexicons): t2s, emoji, pinyin, fuzzy (min_exact=1)
  norm0         the same with min_exact=0 (fuzzy windows may have no character of the term left)
  norm-nofuzzy  t2s, emoji and pinyin only
Choices are made with --part dev (the CNTP dev slice, the first 500 of the non-toxic permutation); report --part test.
Writes JSON (run record + one table per model and setting) and prints the tables; 12b_robustness reads it.
A thin loop over 12b's API (`robustness_report`, `format_robustness`): `toxitrace robustness` (12b's `run_robustness`)
scores one model in one setting (normaliser on or off); this script puts several models and the normaliser's variants
(norm0, norm-nofuzzy) side by side in one file.

    nice .venv/bin/python experiments/robustness.py --model DIR --part dev --n 200 --settings plain norm norm0 norm-nofuzzy
    nice .venv/bin/python experiments/robustness.py --model DIR [DIR ...] --part test --n 400 --settings plain norm
"""
import argparse, sys, time, warnings
from pathlib import Path

SETTINGS = {'plain': None, 'norm': dict(), 'norm0': dict(min_exact=0), 'norm-nofuzzy': dict(steps=('t2s', 'emoji', 'pinyin'))}

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', nargs='+', required=True, help='saved classifier folders')
    ap.add_argument('--settings', nargs='+', default=['plain', 'norm'], choices=sorted(SETTINGS))
    ap.add_argument('--part', default='test', choices=['dev', 'test', 'all'])
    ap.add_argument('--n', type=int, default=400, help='toxic and non-toxic sentences each (0: all of the part)')
    ap.add_argument('--types', nargs='+', default=None, help='cloaking types (default: all eight)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--data-dir', default=None)
    ap.add_argument('--out', default='experiments/results/robustness.json')
    args = ap.parse_args(argv)
    for m in args.model:
        if not (Path(m)/'config.json').exists(): sys.exit(f'robustness: --model {m}: not a classifier folder (no config.json)')
    import torch
    torch.set_num_threads(args.threads)
    from toxitrace.runs import run_record, write_json_atomic
    from toxitrace.data import data_record, resolve_data_dir
    from toxitrace.detector import Detector
    from toxitrace.perturb import PERTURBATIONS, default_normalizer
    from toxitrace.robustness import format_robustness, robustness_report
    d = resolve_data_dir(args.data_dir)
    kinds = tuple(args.types or PERTURBATIONS)
    results = []
    for m in args.model:
        det = Detector.from_pretrained(m)
        for name in args.settings:
            kw = SETTINGS[name]
            det.normalizer = None if kw is None else default_normalizer(d, **kw)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                df = robustness_report(det, d, args.n, kinds, args.part, args.seed, args.batch_size)
            secs = round(time.perf_counter() - t0, 1)
            print(f'\n{m} [{name}] part={args.part} n={args.n} threshold={det.threshold} ({secs} s; {det.normalizer!r})')
            print(format_robustness(df))
            results.append(dict(model=m, setting=name, normalizer=repr(det.normalizer), threshold=det.threshold, seconds=secs,
                                table=df.reset_index().to_dict(orient='records')))
    res = dict(run_record(data_record(d), models=args.model, settings=args.settings, part=args.part, n=args.n, types=kinds,
                          seed=args.seed), results=results)
    print(f'Written {write_json_atomic(args.out, res)}')
    return res

if __name__ == '__main__': main()
