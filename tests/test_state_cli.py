"""`toxitrace state train|extract|score` and `toxitrace metatox build|detect` end to end (issue 29), on a toy data folder
(an 830-post STATE train.json in the released format, so the fixed 800-post dev split can be drawn; a six-post COLD),
a tiny character BERT as the encoder, the tiny random chat decoder (`hf:`) and the Claude stand-in. Random models give
noise: what is checked is the path (files, counts, the same scores in-process and from the command, the cache
replayed, errors before any work), not the quality."""
import json
from pathlib import Path

from test_cli import _toy_data, one_error, run_env

GROUPS = [('河南人', '就会偷井盖', 'Region', 'hate'), ('女权', '都是事儿精', 'Sexism', 'hate'), ('他', '人挺好的', 'non-hate', 'non-hate')]


def _state_posts(n=830):
    "n toy posts in STATE's released format (the first one a CNTP toxic sentence of the toy folder, set aside by the split)."
    recs = [dict(id=0, content='你真是个蠢货', platform='x', topic='x', sen_hate='1', **{'Q1 Target': 'NULL', 'Q1 Argument': '蠢货',
                                                                                      'Q1 Group': 'others', 'Q1 hateful': 'hate'})]
    for i in range(1, n):
        t, a, g, h = GROUPS[i % 3]
        recs.append(dict(id=i, content=f'第{i}条：{t}{a}', platform='x', topic='x', sen_hate=str(int(h == 'hate')),
                         **{'Q1 Target': t, 'Q1 Argument': a, 'Q1 Group': g, 'Q1 hateful': h}))
    return recs


def _setup(tmp_path):
    "A toy data folder with STATE train.json, a tiny encoder folder, and the environment for the console script."
    from toxitrace.test_utils import tiny_char_bert
    d = tmp_path/'data'
    _toy_data(d, ['你真是个蠢货', '今天天气不错', '蠢货滚开', '天气晴朗'] * 2)      # COLD train: two toxic texts, twice each
    posts = _state_posts()
    (d/'state_toxicn'/'train.json').write_text(json.dumps(posts, ensure_ascii=False), encoding='utf-8')
    enc, tok = tiny_char_bert([p['content'] for p in posts] + ['NULL：今天天气不错'])
    enc.save_pretrained(tmp_path/'enc'); tok.save_pretrained(tmp_path/'enc')
    return d, tmp_path/'enc', dict(TOXITRACE_VERIFY='off')


def _lines(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text(encoding='utf-8').splitlines() if l.strip()]


def test_state_train_extract_score(tmp_path, monkeypatch):
    from toxitrace.state import state_scores, state_splits
    d, enc, env = _setup(tmp_path)
    monkeypatch.setenv('TOXITRACE_VERIFY', 'off')                      # the in-process reads of the toy folder too
    r = run_env('state', 'train', '--out', str(tmp_path/'ex'), '--encoder', str(enc), '--train-size', '24', '--epochs', '1',
                '--layers', '2', '--seed', '1', '--data-dir', str(d), '--no-progress', **env)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path/'ex'/'scores.json').read_text(encoding='utf-8'))
    assert (res['split']['dev'], res['split']['set_aside_as_cntp'], res['split']['train'], res['train_posts']) == (800, 1, 29, 24)
    card = json.loads((tmp_path/'ex'/'card.json').read_text(encoding='utf-8'))
    assert card['config']['seed'] == 1 and card['config']['num_hidden_layers'] == 2 and card['row'] == res['row']
    assert 'Qwen2.5-7B (fine-tuned)' in r.stdout and 'encoder extractor, seed 1' in r.stdout     # beside the paper's rows

    r = run_env('state', 'extract', str(tmp_path/'ex'), '--input', 'state:dev', '--output', str(tmp_path/'pred.jsonl'),
                '--data-dir', str(d), '--no-progress', **env)
    assert r.returncode == 0, r.stderr[-3000:]
    pred = _lines(tmp_path/'pred.jsonl')
    _, dev, _ = state_splits(d)
    assert [p['text'] for p in pred] == dev.text.tolist() and [p['index'] for p in pred] == list(range(800))
    assert all(q['argument'] in p['text'] and (q['target'] is None or q['target'] in p['text']) for p in pred for q in p['quads'])

    r = run_env('state', 'score', str(tmp_path/'pred.jsonl'), '--out', str(tmp_path/'s.json'), '--data-dir', str(d), **env)
    assert r.returncode == 0, r.stderr[-3000:]
    scored = json.loads((tmp_path/'s.json').read_text(encoding='utf-8'))
    assert scored['row'] == res['row'] and scored['posts'] == 800      # the saved extractor predicts what it was scored on
    direct = state_scores(dev.quads.tolist(), [p['quads'] for p in pred])
    assert scored['scores'] == json.loads(json.dumps(direct))

    gold = tmp_path/'gold.jsonl'                                        # the gold as predictions, shuffled: 100 everywhere
    gold.write_text(''.join(json.dumps(dict(text=t, quads=q), ensure_ascii=False) + '\n'
                            for t, q in list(zip(dev.text, dev.quads))[::-1][:50]), encoding='utf-8')
    r = run_env('state', 'score', str(gold), '--out', str(tmp_path/'g.json'), '--matching', 'maximum', '--data-dir', str(d), **env)
    assert r.returncode == 0, r.stderr[-3000:]
    g = json.loads((tmp_path/'g.json').read_text(encoding='utf-8'))
    assert set(g['row'].values()) == {100.0} and (g['posts'], g['of']) == (50, 800), g['row']


def test_state_extract_with_llms(tmp_path):
    from toxitrace.test_utils import ClaudeStandIn, tiny_chat_decoder
    d, _, env = _setup(tmp_path)
    posts = ['河南人就会偷井盖', '他人挺好的']
    (tmp_path/'posts.txt').write_text('\n'.join(posts), encoding='utf-8')
    dec = tiny_chat_decoder(tmp_path/'dec', texts=posts)
    args = ('--input', str(tmp_path/'posts.txt'), '--output', str(tmp_path/'hf.jsonl'), '--max-tokens', '12', '--no-progress')
    r = run_env('state', 'extract', f'hf:{dec}', *args, **env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert [p['text'] for p in _lines(tmp_path/'hf.jsonl')] == posts
    assert len(_lines(tmp_path/'hf.chat_cache.jsonl')) == 2                  # one reply per post, cached beside the output
    assert r.stdout.strip().endswith(str(tmp_path/'hf.jsonl'))

    reply = lambda body: '河南人 | 就会偷井盖 | Region | hate [END]' if '河南人就会偷井盖' in body['messages'][-1]['content'] else '无'
    with ClaudeStandIn(reply=reply) as srv:
        r = run_env('state', 'extract', 'claude', '--input', str(tmp_path/'posts.txt'), '--output', str(tmp_path/'c.jsonl'), '--shots', '2',
                    '--no-progress', ANTHROPIC_API_KEY='test-key', ANTHROPIC_BASE_URL=srv.base_url, **env)
        assert r.returncode == 0, r.stderr[-3000:]
        assert srv.answered == 2
    got = _lines(tmp_path/'c.jsonl')
    assert got[0]['quads'] == [dict(target='河南人', argument='就会偷井盖', group=['Region'], hateful=1)] and got[1]['quads'] == []
    assert '1 replies without a quadruple' in r.stdout


def test_state_and_metatox_errors_come_before_any_work(tmp_path):
    d, enc, env = _setup(tmp_path)
    line = one_error(run_env('state', 'train', '--out', str(tmp_path/'ex'), '--encoder', str(tmp_path/'nope'), '--data-dir', str(d), **env), 'state')
    assert 'no such encoder folder' in line and not (tmp_path/'ex').exists(), line
    line = one_error(run_env('state', 'extract', 'gpt:4', '--input', 'state:dev', '--output', str(tmp_path/'o.jsonl'), '--data-dir', str(d), **env), 'state')
    assert 'nor a chat model' in line, line
    line = one_error(run_env('state', 'extract', str(enc), '--input', 'state:test', '--output', str(tmp_path/'o.jsonl'), '--data-dir', str(d), **env), 'state')
    assert 'the parts are state:dev, state:train' in line, line
    (tmp_path/'p.jsonl').write_text(json.dumps(dict(text='不在开发集里', quads=[])) + '\n', encoding='utf-8')
    assert 'no post of STATE dev' in one_error(run_env('state', 'score', str(tmp_path/'p.jsonl'), '--data-dir', str(d), **env), 'state')
    line = one_error(run_env('metatox', 'detect', '--llm', 'claude', '--method', 'metatox', '--data-dir', str(d), **env), 'metatox')
    assert 'needs --graph' in line, line
    line = one_error(run_env('metatox', 'build', '--llm', f'hf:{enc}', '--out', str(tmp_path/'g'), '--encoder', str(enc), '--data-dir', str(d), **env), 'metatox')
    assert 'not a causal LM' in line and not (tmp_path/'g'/'graph.json').exists(), line


RAT, TRI = '用蔑称骂人。', '（蠢货，贬称，人）（蠢货，是，骂人的话）'


def _script(body):
    "The stand-in's replies to MetaTox's prompts: a rationale, two triplets, a self-check keeping the first, entities, an answer."
    u = body['messages'][-1]['content']
    if '只输出理由' in u: return RAT
    if u.endswith('三元组：'): return TRI
    if '保留：编号' in u: return '保留：1'
    if u.endswith('实体：'): return '蠢货\n人'
    return 'a' if '蠢货' in u.rsplit('帖子：', 1)[-1] else 'b'


def test_metatox_build_and_detect(tmp_path):
    from toxitrace.test_utils import ClaudeStandIn, tiny_chat_decoder
    d, enc, env = _setup(tmp_path)
    common = ('--encoder', str(enc), '--data-dir', str(d), '--no-progress')
    with ClaudeStandIn(reply=_script) as srv:
        claude = dict(env, ANTHROPIC_API_KEY='test-key', ANTHROPIC_BASE_URL=srv.base_url)
        r = run_env('metatox', 'build', '--llm', 'claude', '--out', str(tmp_path/'g'), '--limit', '3', *common, **claude)
        assert r.returncode == 0, r.stderr[-3000:]
        card = json.loads((tmp_path/'g'/'card.json').read_text(encoding='utf-8'))
        assert (card['posts'], card['triplets_after_format_check'], card['triplets_after_toxicity_check'], card['encoder']) == (3, 6, 3, str(enc))
        assert card['triplets'] == 1 and card['entities'] == 2                # (蠢货, 贬称, 人): the self-check keeps the first
        asked = srv.answered
        assert asked == 2 + 2 + 1              # a rationale and triplets per distinct post; their self-checks list the same triplets: one
        r = run_env('metatox', 'build', '--llm', 'claude', '--out', str(tmp_path/'g'), '--limit', '3', *common, **claude)
        assert r.returncode == 0 and srv.answered == asked, r.stderr[-2000:]   # replayed from the cache in the graph folder

        r = run_env('metatox', 'detect', '--llm', 'claude', '--graph', str(tmp_path/'g'), '--method', 'metatox', *common, **claude)
        assert r.returncode == 0, r.stderr[-3000:]
        res = json.loads((tmp_path/'g'/'detect-metatox-cold.json').read_text(encoding='utf-8'))
        assert res['answer'] == 'constrained reply' and res['n'] == 6            # the toy COLD test: 3 x (蠢货 toxic, 天气 not)
        assert (res['acc'], res['f1'], res['fpr'], res['pr_auc']) == (1.0, 1.0, 0.0, 1.0)
        assert all(k in ([], ['蠢货贬称人']) for k in res['knowledge']), res['knowledge']     # the one path, if similar enough
        r = run_env('metatox', 'detect', '--llm', 'claude', '--method', 'rag', '--out', str(tmp_path/'rag'), *common, **claude)
        assert r.returncode == 0, r.stderr[-3000:]
        assert all(len(k) == 2 for k in json.loads((tmp_path/'rag'/'detect-rag-cold.json').read_text(encoding='utf-8'))['knowledge'])

    dec = tiny_chat_decoder(tmp_path/'dec', texts=['你真是个蠢货', '今天天气不错'])
    r = run_env('metatox', 'detect', '--llm', f'hf:{dec}', '--method', 'vanilla', '--out', str(tmp_path/'v'), *common, **env)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path/'v'/'detect-vanilla-cold.json').read_text(encoding='utf-8'))
    assert res['answer'] == 'option logits' and res['n'] == 6 and res['unparsable'] == 0 and len(res['logprobs']) == 6
    assert [int(a > b) for a, b in res['logprobs']] == [int(p >= 0.5) for p in res['p_toxic']]
    assert 'PR-AUC' in r.stdout and 'option logits' in r.stdout
