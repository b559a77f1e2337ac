#!/usr/bin/env python
"""`toxitrace serve` under load, side by side with in-process batching, in one run:

  --clients concurrent clients (threads, each its own httpx connection) send --requests requests each of 1-8 texts
  (seeded) to the service on 127.0.0.1 (a background uvicorn server on a free port, stopped at the end);
  throughput (texts/s), p50/p99 latency, and a check that every response carries exactly its own texts, by content,
  and none is lost; vs `Detector.predict` in-process on the same texts in batches of --max-batch.

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
    ap.add_argument('--out', default='benchmarks/results/serve_load.json')
    args = ap.parse_args(argv)
    import httpx, numpy as np, torch
    from toxitrace.data import load_dataset, shared_data_dir
    from toxitrace.detector import Detector
    from toxitrace.model import ToxicityClassifier, load_encoder, preset, small_encoder_path
    from toxitrace.runs import run_record
    from toxitrace.serve import background_server, create_app

    p = preset('small'); torch.manual_seed(0)
    enc, tok = load_encoder(small_encoder_path(), p['num_hidden_layers'])
    det = Detector(ToxicityClassifier(enc, pooling=p['pooling']).eval(), tok, max_length=p['max_length'])
    base = load_dataset('cold', 'test', shared_data_dir())['text'].tolist()
    rng = random.Random(args.seed)
    reqs = [[[f'{rng.choice(base)}#{c}.{r}.{j}' for j in range(rng.randint(1, 8))] for r in range(args.requests)] for c in range(args.clients)]
    flat = [t for c in reqs for r in c for t in r]
    det.predict(flat[:64], batch_size=args.batch_size, progress=False)                 # warm-up
    t0 = time.perf_counter()
    for k in range(0, len(flat), args.max_batch): det.predict(flat[k:k + args.max_batch], batch_size=args.batch_size, progress=False)
    t_inproc = time.perf_counter() - t0

    app = create_app(det, args.max_batch, args.max_wait_ms, max_texts=8, batch_size=args.batch_size)
    lat, bad = [], []
    with background_server(app) as url:
        def client(c):
            out = []
            with httpx.Client(base_url=url, timeout=120) as s:
                for texts in reqs[c]:
                    t = time.perf_counter(); r = s.post('/v1/detect', json=dict(texts=texts)); out.append(time.perf_counter() - t)
                    got = [x['text'] for x in r.json()['results']] if r.status_code == 200 else None
                    if got != texts: bad.append((c, texts, r.status_code))
            return out
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool: lat = [x for l in pool.map(client, range(args.clients)) for x in l]
        t_serve = time.perf_counter() - t0
    batches = app.fastapi.state.batcher.batches
    res = dict(run_record(**vars(args)), n_requests=len(lat), n_texts=len(flat), wrong_or_lost=len(bad),
               serve_s=round(t_serve, 2), inprocess_s=round(t_inproc, 2), serve_texts_per_s=round(len(flat) / t_serve, 1),
               inprocess_texts_per_s=round(len(flat) / t_inproc, 1), serve_over_inprocess=round(t_inproc / t_serve, 3),
               latency_ms=dict(p50=round(1000 * float(np.percentile(lat, 50)), 1), p99=round(1000 * float(np.percentile(lat, 99)), 1)),
               batches=dict(n=len(batches), mean_texts=round(float(np.mean(batches)), 1), max_texts=max(batches)),
               goals=dict(throughput_ge_0_8=t_inproc / t_serve >= 0.8, none_wrong_or_lost=not bad), load_average=os.getloadavg())
    print(json.dumps({k: res[k] for k in ('n_requests', 'n_texts', 'wrong_or_lost', 'serve_texts_per_s', 'inprocess_texts_per_s',
                                          'serve_over_inprocess', 'latency_ms', 'batches', 'goals')}, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding='utf-8')


if __name__ == '__main__': sys.exit(main())
