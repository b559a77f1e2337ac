"""Open LLMs from the command line (issue 24): `train --refiner hf:DIR --reasoner hf:DIR` and `baseline` (both tasks)
end to end on a tiny randomly initialised chat decoder built in-process. A random model's replies are gibberish: what
is checked is the path (prompts asked, replies parsed and kept only where they are substrings, cards and caches
naming the model, reruns replaying the cache), not the quality."""
import json
from pathlib import Path

from test_cli import _toy_data, run_env

TOXIC, NORMAL = '你真是个蠢货', '今天天气不错'


def _decoder(tmp_path):
    from toxitrace.test_utils import tiny_chat_decoder
    return tiny_chat_decoder(tmp_path/'tiny-qwen3', texts=[TOXIC, NORMAL])


def _encoder(tmp_path, texts):
    from toxitrace.test_utils import tiny_char_bert
    enc, tok = tiny_char_bert(texts + ['这段话针对特定群体'])
    enc.save_pretrained(tmp_path/'enc'); tok.save_pretrained(tmp_path/'enc')
    return dict(TOXITRACE_VERIFY='off', TOXITRACE_SMALL_ENCODER=str(tmp_path/'enc'))


def _lines(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text(encoding='utf-8').splitlines() if l.strip()]


def test_train_with_an_open_llm_refiner_and_reasoner(tmp_path):
    texts = [TOXIC, NORMAL] * 4
    _toy_data(tmp_path/'data', texts)
    env, llm = _encoder(tmp_path, texts), f'hf:{_decoder(tmp_path)}'
    args = ('train', '--data-dir', str(tmp_path/'data'), '--out', str(tmp_path/'run'), '--refiner', llm, '--reasoner', llm,
            '--train-size', '0', '--valid-size', '0', '--warmup-epochs', '1', '--joint-epochs', '1', '--bs', '8',
            '--max-length', '16', '--reason-max-length', '16', '--no-evaluate')
    r = run_env(*args, **env)
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path/'run'
    rows = _lines(run/'cues_refined.jsonl')
    assert {x['refiner'] for x in rows} == {llm} and all(x['refiner_version'].startswith('table4') for x in rows)
    for x in rows:                                            # only substrings of the text become spans
        assert all(0 <= a < b <= len(x['text']) for a, b in x['spans']), x
    cache = _lines(run/'cusa_llm_cache.jsonl')                # the open model's answers: one per distinct toxic text asked
    assert len(cache) == len({x['text'] for x in rows if x['label'] == 1}) == 1
    assert not (run/'cusa_claude_cache.jsonl').exists()
    reasons = _lines(run/'reasonings.jsonl')
    assert {x['reasoner'] for x in reasons} == {llm} and len(reasons) == len(texts)
    assert len(_lines(run/'reasoning_llm_cache.jsonl')) == 2 * len(set(texts))     # toxic and normal reasoning of each text
    assert llm in (run/'cues_refined.md').read_text(encoding='utf-8')             # the weak-label card names the model
    assert (run/'joint'/'toxitrace.json').exists()


def test_a_refiner_folder_that_is_not_a_chat_model_fails_before_any_work(tmp_path):
    from test_cli import one_error
    texts = [TOXIC, NORMAL] * 2
    _toy_data(tmp_path/'data', texts)
    env = _encoder(tmp_path, texts)
    line = one_error(run_env('train', '--data-dir', str(tmp_path/'data'), '--out', str(tmp_path/'run'), '--refiner',
                             f'hf:{tmp_path/"enc"}', '--reasoner', 'template', **env), 'train')
    assert 'not a causal LM' in line, line
    assert not (tmp_path/'run'/'warmup').exists()


def test_baseline_both_tasks_on_a_tiny_decoder(tmp_path):
    _toy_data(tmp_path/'data', [TOXIC, NORMAL] * 4)
    llm, env = f'hf:{_decoder(tmp_path)}', dict(TOXITRACE_VERIFY='off')
    common = ('--llm', llm, '--data-dir', str(tmp_path/'data'), '--out', str(tmp_path/'out'), '--max-tokens', '6', '--no-progress')
    r = run_env('baseline', '--task', 'classify', '--dataset', 'cold', *common, **env)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path/'out'/'classify-cold.json').read_text(encoding='utf-8'))
    run = res['runs'][0]
    assert run['n'] == 6 and 0 <= run['unparsable'] <= 6, run               # the toy COLD test split: 6 texts
    assert 'Table 1' in r.stdout and 'Qwen3-8B' in r.stdout                  # printed beside the paper's rows
    r = run_env('baseline', '--task', 'spans', *common, **env)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path/'out'/'spans-cntp-all.json').read_text(encoding='utf-8'))
    assert res['runs'][0]['n'] == 1 and 'Table 2' in r.stdout
    asked = len(_lines(tmp_path/'out'/'chat_cache.jsonl'))
    r = run_env('baseline', '--task', 'spans', *common, **env)              # a rerun replays the cache
    assert r.returncode == 0 and len(_lines(tmp_path/'out'/'chat_cache.jsonl')) == asked, r.stderr[-2000:]
