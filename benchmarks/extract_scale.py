#!/usr/bin/env python
"""Streaming `toxitrace extract` at scale, measured side by side in one run:

  speed: texts/s of the CLI (`toxitrace extract`, a subprocess; its own reported seconds, which include the counting
         pass and loading the model, and the process's wall time, which adds Python's imports) vs
         `Detector.predict` in-process on the same texts, same model, same batch size;
  memory: peak RSS (ru_maxrss of the child) of the CLI at --n-small and --n-large texts (tiny model, so that the
         large run fits this machine): flat memory means the difference stays within 100 MB.

    nice .venv/bin/python benchmarks/extract_scale.py --n-speed 1000 --n-small 20000 --n-large 200000
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

CLI = ('import atexit, resource, sys\n'                        # each child reports its own peak (RUSAGE_CHILDREN would be the max over all)
       'atexit.register(lambda: print(f"peak_rss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr))\n'
       'from toxitrace.cli import main; sys.exit(main())\n')


def run_cli(args, cwd):
    "Run the CLI in a child of its own; (wall seconds, peak RSS MB of that child alone, stdout)."
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, str(Path(cwd)/'cli.py'), *args], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode: raise SystemExit(r.stderr[-2000:])
    rss = float(r.stderr.strip().splitlines()[-1].split('peak_rss_kb=')[1]) / 1024
    return wall, rss, r.stdout


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n-speed', type=int, default=1000); ap.add_argument('--n-small', type=int, default=20000)
    ap.add_argument('--n-large', type=int, default=200000); ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--out', default='benchmarks/results/extract_scale.json')
    args = ap.parse_args(argv)
    import torch
    from toxitrace.data import load_dataset, shared_data_dir
    from toxitrace.detector import Detector
    from toxitrace.model import ToxicityClassifier, load_encoder, preset, save_classifier, small_encoder_path
    from toxitrace.runs import run_record
    from toxitrace.test_utils import tiny_char_bert

    d = Path(tempfile.mkdtemp(prefix='extract_scale_'))
    (d/'cli.py').write_text(CLI)
    base = load_dataset('cold', 'test', shared_data_dir())['text'].tolist()
    # speed: the small preset (random head), CLI vs in-process, same texts
    p = preset('small')
    torch.manual_seed(0)
    enc, tok = load_encoder(small_encoder_path(), p['num_hidden_layers'])
    save_classifier(d/'small', ToxicityClassifier(enc, pooling=p['pooling']).eval(), tok, max_length=p['max_length'])
    texts = [base[i % len(base)] for i in range(args.n_speed)]
    (d/'speed.txt').write_text('\n'.join(t.replace('\n', ' ') for t in texts) + '\n', encoding='utf-8')
    det = Detector.from_pretrained(d/'small')
    det.predict(texts[:64], batch_size=args.batch_size, progress=False)            # warm-up
    t0 = time.perf_counter(); det.predict(texts, batch_size=args.batch_size, progress=False); t_pred = time.perf_counter() - t0
    wall, _, out = run_cli(['extract', '--model', str(d/'small'), '--input', str(d/'speed.txt'), '--output', str(d/'speed.jsonl'),
                            '--batch-size', str(args.batch_size), '--no-progress'], d)
    t_cli = float(out.split(' in ')[1].split(' s')[0])
    speed = dict(n_texts=args.n_speed, predict_s=round(t_pred, 2), cli_reported_s=round(t_cli, 2), cli_wall_s=round(wall, 2),
                 predict_texts_per_s=round(args.n_speed / t_pred, 1), cli_texts_per_s=round(args.n_speed / t_cli, 1),
                 cli_over_predict_throughput=round(t_pred / t_cli, 3), cli_wall_over_predict_throughput=round(t_pred / wall, 3))
    # memory: a tiny model, n-small vs n-large texts
    enc, tok = tiny_char_bert(base[:2000])
    save_classifier(d/'tiny', ToxicityClassifier(enc).eval(), tok, max_length=64)
    mem = {}
    for n in (args.n_small, args.n_large):                                         # small first: ru_maxrss only grows
        with open(d/f'm{n}.txt', 'w', encoding='utf-8') as f:
            for i in range(n): f.write(base[i % len(base)].replace('\n', ' ') + '\n')
        wall, rss, out = run_cli(['extract', '--model', str(d/'tiny'), '--input', str(d/f'm{n}.txt'), '--output', str(d/f'm{n}.jsonl'),
                                  '--no-progress'], d)
        mem[n] = dict(peak_rss_mb=round(rss, 1), wall_s=round(wall, 1), texts_per_s=round(n / wall, 1),
                      output_mb=round((d/f'm{n}.jsonl').stat().st_size / 2**20, 1))
        (d/f'm{n}.txt').unlink(); (d/f'm{n}.jsonl').unlink()
    diff = mem[args.n_large]['peak_rss_mb'] - mem[args.n_small]['peak_rss_mb']
    res = dict(run_record(**vars(args)), speed=speed, memory={str(k): v for k, v in mem.items()}, rss_large_minus_small_mb=round(diff, 1),
               goals=dict(cli_ge_0_9_predict=speed['cli_over_predict_throughput'] >= 0.9, rss_flat_within_100mb=diff <= 100),
               load_average=os.getloadavg())
    print(json.dumps(dict(speed=speed, memory=res['memory'], rss_large_minus_small_mb=res['rss_large_minus_small_mb'], goals=res['goals']), indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding='utf-8')


if __name__ == '__main__': sys.exit(main())
