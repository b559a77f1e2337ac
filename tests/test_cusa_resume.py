"A ClaudeRefiner run killed with SIGKILL (a real process, a real kill) resumes from its JSONL cache."
import signal, subprocess, sys, time, warnings

import anthropic
import pytest

from toxitrace.claude import CacheWarning
from toxitrace.cusa import ClaudeRefiner
from toxitrace.test_utils import ClaudeStandIn

TEXTS = [f'第{i}个黑人说黑人有枪' for i in range(12)]
CUES = [['黑人', '有枪']] * len(TEXTS)

CHILD = '''
import sys, anthropic
from toxitrace.cusa import ClaudeRefiner
texts = [f'第{i}个黑人说黑人有枪' for i in range(12)]
client = anthropic.Anthropic(api_key='test-key', base_url=sys.argv[1], max_retries=0)
ClaudeRefiner(cache_path=sys.argv[2], client=client, progress=False, max_workers=1).refine_many(texts, [['黑人', '有枪']] * 12)
'''


def _lines(path) -> int: return path.read_bytes().count(b'\n') if path.exists() else 0


def test_killed_run_resumes_from_cache(tmp_path):
    cache = tmp_path/'replies.jsonl'
    with ClaudeStandIn(delay=0.1) as srv:
        client = anthropic.Anthropic(api_key='test-key', base_url=srv.base_url, max_retries=0)
        child = subprocess.Popen([sys.executable, '-c', CHILD, srv.base_url, str(cache)])
        deadline = time.time() + 60
        while _lines(cache) < 4 and child.poll() is None and time.time() < deadline: time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
        time.sleep(0.3)                                   # let the stand-in finish the request in flight
        done = _lines(cache)
        assert 4 <= done < len(TEXTS), done
        with open(cache, 'ab') as f: f.write('{"key": "0f", "reply": "黑'.encode()[:-1])   # killed mid-write
        answered = srv.answered

        with pytest.warns(CacheWarning, match='interrupted write'):
            ref = ClaudeRefiner(cache_path=cache, client=client, progress=False)
        spans = ref.refine_many(TEXTS, CUES)
        assert (ref.stats.cache_hits, ref.stats.requests) == (done, len(TEXTS) - done)
        assert srv.answered - answered == len(TEXTS) - done   # only what was missing was asked for

        assert spans == ClaudeRefiner(client=client, progress=False).refine_many(TEXTS, CUES)   # as if never killed
        assert spans[0] == [(3, 5), (6, 8), (8, 10)]

        with warnings.catch_warnings():
            warnings.simplefilter('error')                 # the cut-off line is gone: the file is clean
            again = ClaudeRefiner(cache_path=cache, client=client, progress=False)
        messages = srv.messages
        assert again.refine_many(TEXTS, CUES) == spans and srv.messages == messages   # a re-run sends nothing
