"An HFChat run killed in the middle (a real process, SIGKILL) resumes from its JSONL cache and generates only the rest."
import signal, subprocess, sys, time

from toxitrace.cusa import ChatRefiner
from toxitrace.llm import HFChat
from toxitrace.test_utils import tiny_chat_decoder

TEXTS = [f'第{i}个黑人说黑人有枪' for i in range(10)]
CUES = [['黑人', '有枪']] * len(TEXTS)

CHILD = '''
import sys, time
from toxitrace.cusa import ChatRefiner
from toxitrace.llm import HFChat
llm = HFChat(sys.argv[1], sys.argv[2], device='cpu', batch_size=1, progress=False).load()
inner = llm.model.generate
def slow(*a, **kw): time.sleep(0.3); return inner(*a, **kw)
llm.model.generate = slow
ChatRefiner(llm, max_tokens=8).refine_many([f'第{i}个黑人说黑人有枪' for i in range(10)], [['黑人', '有枪']] * 10)
'''


def _lines(path) -> int: return path.read_bytes().count(b'\n') if path.exists() else 0


def _refiner(folder, cache=None):
    "A refiner over the tiny model that counts its `generate` calls in `.calls`."
    llm = HFChat(str(folder), cache, device='cpu', batch_size=1, progress=False).load()
    inner, llm.calls = llm.model.generate, 0
    def counted(*a, **kw): llm.calls += 1; return inner(*a, **kw)
    llm.model.generate = counted
    return ChatRefiner(llm, max_tokens=8)


def test_killed_hf_run_resumes_from_cache(tmp_path):
    folder, cache = tiny_chat_decoder(tmp_path/'tiny-qwen3'), tmp_path/'replies.jsonl'
    child = subprocess.Popen([sys.executable, '-c', CHILD, str(folder), str(cache)])
    deadline = time.time() + 120
    while _lines(cache) < 3 and child.poll() is None and time.time() < deadline: time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = _lines(cache)
    assert 3 <= done < len(TEXTS), done

    ref = _refiner(folder, cache)
    spans = ref.refine_details(TEXTS, CUES)
    assert (ref.stats.cache_hits, ref.stats.requests, ref.llm.calls) == (done, len(TEXTS) - done, len(TEXTS) - done)
    fresh = _refiner(folder)                                # as if never killed: the same replies, all generated
    assert fresh.refine_details(TEXTS, CUES) == spans and fresh.llm.calls == len(TEXTS)
    again = _refiner(folder, cache)
    assert again.refine_details(TEXTS, CUES) == spans and again.llm.calls == 0   # a re-run generates nothing
