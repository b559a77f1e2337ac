#!/usr/bin/env python
"""`toxitrace serve` under load, side by side with in-process batching, in one run:

  --clients concurrent clients (threads, each its own httpx connection) send --requests requests each of 1-8 texts
  (seeded) to the service on 127.0.0.1 (a background uvicorn server on a free port, stopped at the end);
  throughput (texts/s), p50/p99 latency, and a check that every response carries exactly its own texts, by content
  (each text is tagged with its client, request and position, and its P(toxic) must be the in-process one for that
  text within 1e-4; labels and spans that differ from in-process, which other padding could cause near a threshold,
  are counted apart), and none is lost; vs `Detector.predict` in-process on the same texts in batches of
  --max-batch. Bounded: every request has a --timeout, and the clients stop at --deadline seconds (the requests not
  sent by then count as lost).

On a shared machine the load average before and after is recorded; `--threads` (default 1) fixes torch's threads.

    nice .venv/bin/python benchmarks/serve_load.py --clients 16 --requests 100
"""
import argparse, json, os, random, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--clients', type=int, default=16); ap.add_argument('--requests', type=int, default=100)
    ap.add_argument('--max-batch', type=int, default=64); ap.add_argument('--max-wait-ms', type=float, default=5.0)
    ap.add_argument('--batch-size', type=int, default=32); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--timeout', type=float, default=120)
    ap.add_argument('--deadline', type=float, default=1800, help='seconds after which the clients stop sending')
    ap.add_argument('--model', default=None, help='a saved classifier folder (default: the small preset, untrained head)')
    ap.add_argument('--data-dir', default=None, help='the data folder (default: toxitrace.data.resolve_data_dir)')
    ap.add_argument('--out', default='benchmarks/results/serve_load.json')
    args = ap.parse_args(argv)
    import httpx, numpy as np, torch
    from toxitrace.data import load_dataset, resolve_data_dir
    from toxitrace.detector import Detector
    from toxitrace.model import ToxicityClassifier, load_encoder, preset, small_encoder_path
    from toxitrace.runs import run_record
    from toxitrace.serve import background_server, create_app

    torch.set_num_threads(args.threads)
    load = [os.getloadavg()]
    if args.model: det = Detector.from_pretrained(args.model)
    else:
        p = preset('small'); torch.manual_seed(0)
        enc, tok = load_encoder(small_encoder_path(), p['num_hidden_layers'])
        det = Detector(ToxicityClassifier(enc, pooling=p['pooling']).eval(), tok, max_length=p['max_length'])
    base = load_dataset('cold', 'test', resolve_data_dir(args.data_dir))['text'].tolist()
    rng = random.Random(args.seed)
    reqs = [[[f'{rng.choice(base)}#{c}.{r}.{j}' for j in range(rng.randint(1, 8))] for r in range(args.requests)] for c in range(args.clients)]
    flat = [t for c in reqs for r in c for t in r]
    det.predict(flat[:64], batch_size=args.batch_size, progress=False)                 # warm-up
    t0 = time.perf_counter()
    ref = [r for k in range(0, len(flat), args.max_batch) for r in det.predict(flat[k:k + args.max_batch], batch_size=args.batch_size, progress=False)]
    t_inproc = time.perf_counter() - t0
    expect = {t: r for t, r in zip(flat, ref)}
    spans_of = lambda r: [(x['start'], x['stop']) for x in r['spans']]

    app = create_app(det, args.max_batch, args.max_wait_ms, max_texts=8, batch_size=args.batch_size)
    lat, bad, differ = [], [], []
    with background_server(app) as url:
        def client(c):
            out = []
            with httpx.Client(base_url=url, timeout=args.timeout) as s:
                for texts in reqs[c]:
                    if time.perf_counter() - t0 > args.deadline: bad.append((c, texts, 'not sent: deadline')); continue
                    t = time.perf_counter()
                    try: r = s.post('/v1/detect', json=dict(texts=texts))
                    except httpx.HTTPError as e: bad.append((c, texts, type(e).__name__)); continue
                    out.append(time.perf_counter() - t)
                    got = r.json()['results'] if r.status_code == 200 else []
                    if [x['text'] for x in got] != texts or any(abs(x['prob_toxic'] - expect[t]['prob_toxic']) > 1e-4 for x, t in zip(got, texts)):
                        bad.append((c, texts, r.status_code)); continue
                    differ.extend(t for x, t in zip(got, texts) if (x['label'], spans_of(x)) != (expect[t]['label'], spans_of(expect[t])))
            return out
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool: lat = [x for l in pool.map(client, range(args.clients)) for x in l]
        t_serve = time.perf_counter() - t0
    batches = app.fastapi.state.batcher.batches
    load.append(os.getloadavg())
    res = dict(run_record(**vars(args)), n_requests=len(lat), n_texts=len(flat), wrong_or_lost=len(bad),
               label_or_spans_differ_from_inprocess=len(differ),
               serve_s=round(t_serve, 2), inprocess_s=round(t_inproc, 2), serve_texts_per_s=round(len(flat) / t_serve, 1),
               inprocess_texts_per_s=round(len(flat) / t_inproc, 1), serve_over_inprocess=round(t_inproc / t_serve, 3),
               latency_ms=dict(p50=round(1000 * float(np.percentile(lat, 50)), 1), p99=round(1000 * float(np.percentile(lat, 99)), 1)),
               batches=dict(n=len(batches), mean_texts=round(float(np.mean(batches)), 1), max_texts=max(batches)),
               goals=dict(throughput_ge_0_8=t_inproc / t_serve >= 0.8, none_wrong_or_lost=not bad), load_average_before_after=load,
               note='shared machine: the lead trains models on the same 2 cores while this runs, so absolute speeds move with the load; '
                    'the two throughputs are measured one after the other in one run')
    print(json.dumps({k: res[k] for k in ('n_requests', 'n_texts', 'wrong_or_lost', 'label_or_spans_differ_from_inprocess', 'serve_texts_per_s', 'inprocess_texts_per_s',
                                          'serve_over_inprocess', 'latency_ms', 'batches', 'goals', 'load_average_before_after')}, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding='utf-8')


if __name__ == '__main__': sys.exit(main())
