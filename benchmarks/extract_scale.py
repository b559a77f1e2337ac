#!/usr/bin/env python
"""Streaming `toxitrace extract` at scale, measured side by side in one run:

  speed:  texts/s of the CLI (`toxitrace extract`, a subprocess; its own reported seconds, which include the counting
          pass and loading the model, and the process's wall time, which adds Python's imports) vs
          `Detector.predict` in-process on the same --n-speed COLD texts, same model (the small preset), same batch
          size, same number of torch threads;
          The CLI's seconds include loading the model, which predict's do not: `Detector.from_pretrained` is timed
          in-process too and the ratio without it is reported beside the plain one;
  memory: peak RSS (ru_maxrss of the child) of the CLI at --n-small and --n-large texts (the tiny character BERT and the
          texts cut to --memory-chars characters, so that the large run fits this machine): flat memory means the
          difference stays within 100 MB;
  shards: --n-shard texts through the small preset: one process with --threads threads, two `--shard K/2` processes
          at once (1 thread each) plus `toxitrace merge`, and one process with 2 threads (the same two cores
          in one process); the merged file must hold the single run's records.

On a shared machine (other jobs on the same cores) every number moves with the load: the load average before and
after each part is recorded. `--threads` (default 1) fixes torch's threads for the in-process and CLI runs alike.

    nice .venv/bin/python benchmarks/extract_scale.py --n-speed 2000 --n-small 20000 --n-large 200000 --n-shard 1000
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

CLI = ('import atexit, resource, sys\n'                        # each child reports its own peak (RUSAGE_CHILDREN would be the max over all)
       'atexit.register(lambda: print(f"peak_rss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr))\n'
       'from toxitrace.cli import main; sys.exit(main())\n')


def _popen(args, cwd, threads):
    env = {**os.environ, 'OMP_NUM_THREADS': str(threads), 'MKL_NUM_THREADS': str(threads)}
    return subprocess.Popen([sys.executable, str(Path(cwd)/'cli.py'), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(p):
    out, err = p.communicate()
    if p.returncode: raise SystemExit(err[-2000:])
    return out, float(err.strip().splitlines()[-1].split('peak_rss_kb=')[1]) / 1024


def run_cli(args, cwd, threads=1):
    "Run the CLI in a child of its own; (wall seconds, peak RSS MB of that child alone, stdout)."
    t0 = time.perf_counter()
    out, rss = _finish(_popen(args, cwd, threads))
    return time.perf_counter() - t0, rss, out


def reported_seconds(out): return float(out.split(' in ')[1].split(' s')[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n-speed', type=int, default=2000); ap.add_argument('--n-small', type=int, default=20000)
    ap.add_argument('--n-large', type=int, default=200000); ap.add_argument('--n-shard', type=int, default=1000)
    ap.add_argument('--batch-size', type=int, default=32); ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--memory-chars', type=int, default=16, help='the memory part cuts its texts to this many characters (0: whole)')
    ap.add_argument('--parts', default='speed,memory,shards', help='comma-separated: speed, memory, shards')
    ap.add_argument('--model', default=None, help='a saved classifier folder for the speed and shards parts (default: the small preset, untrained head)')
    ap.add_argument('--data-dir', default=None, help='the data folder (default: toxitrace.data.resolve_data_dir)')
    ap.add_argument('--out', default='benchmarks/results/extract_scale.json')
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    from toxitrace.data import load_dataset, resolve_data_dir
    from toxitrace.detector import Detector
    from toxitrace.model import ToxicityClassifier, load_encoder, preset, save_classifier, small_encoder_path
    from toxitrace.runs import run_record
    from toxitrace.test_utils import tiny_char_bert

    parts = set(args.parts.split(','))
    d = Path(tempfile.mkdtemp(prefix='extract_scale_'))
    (d/'cli.py').write_text(CLI)
    base = load_dataset('cold', 'test', resolve_data_dir(args.data_dir))['text'].tolist()
    if args.model: (d/'small').symlink_to(Path(args.model).resolve())
    else:
        p = preset('small')
        torch.manual_seed(0)
        enc, tok = load_encoder(small_encoder_path(), p['num_hidden_layers'])
        save_classifier(d/'small', ToxicityClassifier(enc, pooling=p['pooling']).eval(), tok, max_length=p['max_length'])
    def write_texts(path, n, chars=0):
        texts = [base[i % len(base)].replace('\n', ' ')[:chars or None] for i in range(n)]
        with open(path, 'w', encoding='utf-8') as f:
            for t in texts: f.write(t + '\n')
        return texts
    res = dict(run_record(**vars(args)), note='shared machine: the lead trains models on the same 2 cores while this runs, '
               'so absolute speeds move with the load; ratios are measured side by side', load_average={})
    extract = lambda model, inp, out, *extra: ['extract', '--model', str(model), '--input', str(inp), '--output', str(out),
                                               '--batch-size', str(args.batch_size), '--no-progress', *extra]
    if 'speed' in parts:                                                           # the small preset (random head), CLI vs in-process
        res['load_average']['speed_before'] = os.getloadavg()
        texts = write_texts(d/'speed.txt', args.n_speed)
        t0 = time.perf_counter(); det = Detector.from_pretrained(d/'small'); t_load = time.perf_counter() - t0
        det.predict(texts[:64], batch_size=args.batch_size, progress=False)            # warm-up
        t0 = time.perf_counter(); det.predict(texts, batch_size=args.batch_size, progress=False); t_pred = time.perf_counter() - t0
        wall, _, out = run_cli(extract(d/'small', d/'speed.txt', d/'speed.jsonl'), d, args.threads)
        t_cli = reported_seconds(out)
        res['speed'] = dict(n_texts=args.n_speed, predict_s=round(t_pred, 2), cli_reported_s=round(t_cli, 2), cli_wall_s=round(wall, 2),
                            predict_texts_per_s=round(args.n_speed / t_pred, 1), cli_texts_per_s=round(args.n_speed / t_cli, 1),
                            cli_over_predict_throughput=round(t_pred / t_cli, 3), cli_wall_over_predict_throughput=round(t_pred / wall, 3),
                            model_load_s_in_process=round(t_load, 2), cli_less_model_load_over_predict_throughput=round(t_pred / (t_cli - t_load), 3))
        res['load_average']['speed_after'] = os.getloadavg()
        print('speed', json.dumps(res['speed']), flush=True)
    if 'memory' in parts:                                                          # a tiny model, n-small vs n-large texts
        res['load_average']['memory_before'] = os.getloadavg()
        enc, tok = tiny_char_bert(base[:2000])
        save_classifier(d/'tiny', ToxicityClassifier(enc).eval(), tok, max_length=64)
        mem = {}
        for n in (args.n_small, args.n_large):
            write_texts(d/f'm{n}.txt', n, args.memory_chars)
            wall, rss, out = run_cli(extract(d/'tiny', d/f'm{n}.txt', d/f'm{n}.jsonl'), d, args.threads)
            mem[str(n)] = dict(peak_rss_mb=round(rss, 1), wall_s=round(wall, 1), texts_per_s=round(n / wall, 1),
                               input_mb=round((d/f'm{n}.txt').stat().st_size / 2**20, 1), output_mb=round((d/f'm{n}.jsonl').stat().st_size / 2**20, 1))
            (d/f'm{n}.txt').unlink(); (d/f'm{n}.jsonl').unlink()
            print('memory', n, json.dumps(mem[str(n)]), flush=True)
        res['memory'] = mem
        res['rss_large_minus_small_mb'] = round(mem[str(args.n_large)]['peak_rss_mb'] - mem[str(args.n_small)]['peak_rss_mb'], 1)
        res['load_average']['memory_after'] = os.getloadavg()
    if 'shards' in parts:                                                          # 1 process vs 2 shards at once, same texts
        res['load_average']['shards_before'] = os.getloadavg()
        write_texts(d/'sh.txt', args.n_shard)
        w1, _, out1 = run_cli(extract(d/'small', d/'sh.txt', d/'one.jsonl'), d, args.threads)
        t0 = time.perf_counter()
        procs = [_popen(extract(d/'small', d/'sh.txt', d/f'part{k}.jsonl', '--shard', f'{k}/2'), d, 1) for k in range(2)]
        outs = [_finish(q)[0] for q in procs]
        t_shards = time.perf_counter() - t0
        wm, _, outm = run_cli(['merge', str(d/'part0.jsonl'), str(d/'part1.jsonl'), '--output', str(d/'merged.jsonl')], d)
        w2, _, out2 = run_cli(extract(d/'small', d/'sh.txt', d/'two_threads.jsonl'), d, 2)
        key = lambda f: [(r['index'], r['text'], r['label'], [(s['start'], s['stop']) for s in r['spans']])
                         for r in map(json.loads, (d/f).read_text(encoding='utf-8').splitlines())]
        same = key('merged.jsonl') == key('one.jsonl')
        res['shards'] = dict(n_texts=args.n_shard, one_process_wall_s=round(w1, 2), one_process_threads=args.threads,
                             two_shards_wall_s=round(t_shards, 2), merge_wall_s=round(wm, 2), two_shards_plus_merge_s=round(t_shards + wm, 2),
                             shard_reported_s=[reported_seconds(o) for o in outs], one_process_2_threads_wall_s=round(w2, 2),
                             two_shards_over_one_process=round((t_shards + wm) / w1, 3),
                             two_shards_over_one_process_2_threads=round((t_shards + wm) / w2, 3), merged_equals_single_run=same)
        res['load_average']['shards_after'] = os.getloadavg()
        print('shards', json.dumps(res['shards']), flush=True)
    goals = {}
    if 'speed' in res: goals['cli_ge_0_9_predict'] = res['speed']['cli_over_predict_throughput'] >= 0.9
    if 'memory' in res: goals['rss_flat_within_100mb'] = res['rss_large_minus_small_mb'] <= 100
    if 'shards' in res: goals['merged_equals_single_run'] = res['shards']['merged_equals_single_run']
    res['goals'] = goals
    print(json.dumps({k: res[k] for k in ('speed', 'memory', 'rss_large_minus_small_mb', 'shards', 'goals', 'load_average') if k in res}, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding='utf-8')


if __name__ == '__main__': sys.exit(main())
