#!/usr/bin/env python
"""Open-LLM speed for ToxiTrace's two LLM tasks, through `toxitrace.llm.HFChat` (chat template, length-sorted
left-padded batches, greedy decoding), on a randomly initialised model of Qwen3-0.6B's shape:

  refine:   CuSA's Table 4 request (system turn + the text + its cue strings), max_new_tokens 48;
  classify: the zero-shot classification instruction of Table 10 (one user turn), max_new_tokens 4.

Texts per minute for each batch size of --batch-sizes, on --limit texts from COLD train (a seeded sample).

What sets the cost, and what does not: random weights cost what trained weights of the same shape cost, but they
rarely emit an end token, so generation is forced to run exactly max_new_tokens (`min_new_tokens=max_new_tokens`):
every reply is as long as its cap, which is the worst case (a real model stops earlier, often after a few tokens
for `classify`). The tokenizer is one token per character over the COLD texts and the prompts (Qwen3's real
tokenizer is not available offline; it gives somewhat fewer tokens per Chinese text), with Qwen's chat template and
thinking off; the model's vocabulary is Qwen3-0.6B's 151,936 all the same (so the output layer costs what it
costs). The cues of `refine` are stand-ins (two substrings of each text: its first 2 characters and 3 from its
middle), which is about what BiCSE gives. No model weights were downloaded; nothing here measures reply quality.

Qwen3-0.6B's published config (https://huggingface.co/Qwen/Qwen3-0.6B/blob/main/config.json): 28 layers, hidden
1024, intermediate 3072, 16 attention heads, 8 KV heads, head_dim 128, vocab 151936, tied embeddings,
rope_theta 1e6, rms_norm_eps 1e-6, max_position_embeddings 40960.

    nice .venv/bin/python benchmarks/llm_speed.py --limit 4 --batch-sizes 1,4 --threads 2    # CPU, a few minutes
    .venv/bin/python benchmarks/llm_speed.py --limit 256 --batch-sizes 1,4,16,64 --device cuda     # a GPU
"""
import argparse, json, os, sys, tempfile, time, warnings
from pathlib import Path

QWEN3_0_6B = dict(vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                  num_key_value_heads=8, head_dim=128, max_position_embeddings=40960, tie_word_embeddings=True,
                  rope_theta=1_000_000, rms_norm_eps=1e-6, architectures=['Qwen3ForCausalLM'])
TABLE10 = '\n\n'.join([
    '你是一个有害内容识别领域的专家，现在有一些潜在的有害内容文本需要你来分析，可能的有害内容包括但不限于：',
    '地域歧视：针对某些地区或该地区的人发表的整体贬低性言论；', '性别对立：表达针对某一性别的贬低或歧视性言论；',
    '种族歧视：针对特定人种发表的歧视性表达。', '其余未列在上述分类中的如果有明显的攻击性及仇恨言论，也认为是有害内容。',
    '你只需要对用户提供的内容进行判断，然后对你认为有害的内容输出一个“1”，无害内容输出“0”即可，无需进行任何其他分析，只需要输出一个“0”或“1”即可。',
    '输入：{sentence}'])
TASKS = dict(refine=48, classify=4)


def stand_in_cues(text: str) -> list[str]:
    "Two substrings of `text` as its cue strings: the first 2 characters and 3 from the middle."
    m = len(text) // 2
    return list(dict.fromkeys(c for c in (text[:2], text[m:m + 3]) if c.strip()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--limit', type=int, default=64, help='COLD train texts (a seeded sample); each batch size runs all of them')
    ap.add_argument('--batch-sizes', default='1,4,16', help='comma-separated (64 fits a GPU)')
    ap.add_argument('--tasks', default='refine,classify', help='comma-separated: refine, classify')
    ap.add_argument('--device', default='auto')
    ap.add_argument('--dtype', default=None, help='bf16 | fp16 | fp32 (default: bf16 on CUDA, fp32 on the CPU)')
    ap.add_argument('--threads', type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument('--data-dir', default=None)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--layers', type=int, default=28, help="fewer layers for a smoke run only (then it is not Qwen3-0.6B's shape; the JSON says so)")
    ap.add_argument('--out', default='benchmarks/results/llm_speed.json')
    args = ap.parse_args(argv)
    sizes = [int(b) for b in args.batch_sizes.split(',')]
    tasks = [t for t in args.tasks.split(',') if t]
    if bad := [t for t in tasks if t not in TASKS]: sys.exit(f'unknown task(s) {bad}: use {list(TASKS)}')

    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM
    from toxitrace.claude import JsonlCache
    from toxitrace.cusa import TABLE4_SYSTEM, TABLE4_USER, user_message
    from toxitrace.data import load_dataset, shared_data_dir
    from toxitrace.llm import HFChat
    from toxitrace.runs import run_record
    from toxitrace.test_utils import chat_tokenizer
    if args.threads: torch.set_num_threads(args.threads)

    warnings.filterwarnings('ignore', message='.*entities.*')
    df = load_dataset('cold', 'train', args.data_dir or shared_data_dir())
    texts = df.sample(min(args.limit, len(df)), random_state=args.seed)['text'].tolist()
    prompts = dict(refine=[(TABLE4_SYSTEM, user_message(t, stand_in_cues(t), TABLE4_USER)) for t in texts],
                   classify=[(None, TABLE10.replace('{sentence}', t)) for t in texts])

    folder = Path(tempfile.mkdtemp())/'qwen3-0.6b-shape'         # config + tokenizer; the weights are made in memory
    cfg = Qwen3Config(**dict(QWEN3_0_6B, num_hidden_layers=args.layers))
    tok = chat_tokenizer('qwen3', 'char', df['text'].tolist() + [TABLE4_SYSTEM, TABLE4_USER, TABLE10])
    cfg.eos_token_id, cfg.pad_token_id = tok.eos_token_id, tok.pad_token_id
    cfg.save_pretrained(folder); tok.save_pretrained(folder)
    chat = HFChat(str(folder), device=args.device, dtype=args.dtype, progress=False)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    chat.model = Qwen3ForCausalLM(cfg).to(chat.dtype).to(chat.device).eval()
    init_s = time.perf_counter() - t0
    n_params = sum(p.numel() for p in chat.model.parameters())

    def run(task, bs, subset):
        chat.batch_size, chat.cache = bs, JsonlCache()
        chat.generate_kwargs = dict(min_new_tokens=TASKS[task])
        reqs = {str(i): dict(system=s, messages=[dict(role='user', content=u)], max_tokens=TASKS[task]) for i, (s, u) in enumerate(subset)}
        if chat.device.startswith('cuda'): torch.cuda.synchronize()
        t = time.perf_counter(); recs = chat.ask(reqs)
        if chat.device.startswith('cuda'): torch.cuda.synchronize()
        return time.perf_counter() - t, recs

    run('classify', 1, prompts['classify'][:1])                    # warm-up
    rows, load = [], [os.getloadavg()]
    for task in tasks:
        for bs in sizes:
            s, recs = run(task, bs, prompts[task])
            out_tok = [r['output_tokens'] for r in recs.values()]
            assert set(out_tok) == {TASKS[task]}, f'generation was not forced to {TASKS[task]} tokens: {set(out_tok)}'
            inp = sum(r['input_tokens'] for r in recs.values())
            rows.append(dict(task=task, batch_size=bs, texts=len(recs), seconds=round(s, 2), texts_per_min=round(60 * len(recs) / s, 1),
                             input_tokens=inp, mean_input_tokens=round(inp / len(recs), 1), output_tokens=sum(out_tok),
                             tokens_per_s=round((inp + sum(out_tok)) / s, 1)))
            print(f"{task:>8} bs {bs:>3}: {rows[-1]['texts_per_min']:>8.1f} texts/min  ({len(recs)} texts in {s:.1f} s, "
                  f"{rows[-1]['mean_input_tokens']:.0f} prompt + {TASKS[task]} new tokens each)", flush=True)
    load.append(os.getloadavg())

    head = f"{'task':>8} | {'batch':>5} | {'texts':>5} | {'seconds':>8} | {'texts/min':>9} | {'prompt tok':>10} | {'new tok':>7} | {'tok/s':>7}"
    print('\n' + head + '\n' + '-' * len(head))
    for r in rows:
        print(f"{r['task']:>8} | {r['batch_size']:>5} | {r['texts']:>5} | {r['seconds']:>8.1f} | {r['texts_per_min']:>9.1f} | "
              f"{r['mean_input_tokens']:>10.0f} | {TASKS[r['task']]:>7} | {r['tokens_per_s']:>7.1f}")
    res = dict(run_record(limit=args.limit, batch_sizes=sizes, tasks=tasks, device=chat.device, dtype=str(chat.dtype),
                          threads=args.threads or torch.get_num_threads(), seed=args.seed),
               model=dict(shape='Qwen3-0.6B (published config.json, https://huggingface.co/Qwen/Qwen3-0.6B)' + ('' if args.layers == 28 else
                          f' but {args.layers} layers instead of 28: a smoke run, not the real shape'), config=dict(QWEN3_0_6B, num_hidden_layers=args.layers),
                          parameters=n_params, weights='random (torch.manual_seed(seed)); no weights were downloaded',
                          init_seconds=round(init_s, 1)),
               tokenizer=f'one token per character over COLD train and the prompts ({len(tok)} entries; Qwen chat template, thinking off)',
               forced_length='min_new_tokens = max_new_tokens: every reply is exactly max_new_tokens long (random weights '
                             'rarely emit an end token); a trained model stops earlier, so these are worst-case times',
               cues='refine: stand-in cue strings (the first 2 characters and 3 from the middle of each text)',
               max_new_tokens=TASKS, load_average_before_after=load, rows=rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1, ensure_ascii=False) + '\n')
    print(f'-> {args.out}')


if __name__ == '__main__': main()
