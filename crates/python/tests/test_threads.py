"""Concurrency: two Python threads share one model and both get the single-threaded answer;
Ctrl-C (SIGINT) stops a long call between forward batches with KeyboardInterrupt."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from conftest import FIXTURES, load_cases

from open_provence_rs import OpenProvence

CASES = load_cases("process/cases.json")


def test_two_threads_calling_process_at_once(model):
    jobs = [(c["question"], c["context"], c["options"]) for c in CASES[:6]]
    expected = [model.process(q, c, show_progress=False, **o) for q, c, o in jobs]
    results: dict[int, list] = {}
    errors = []
    start = threading.Barrier(2)

    def worker(slot: int) -> None:
        try:
            start.wait()
            results[slot] = [model.process(q, c, show_progress=False, **o) for q, c, o in jobs * 3]
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and sorted(results) == [0, 1]
    for got in results.values():
        for out, want in zip(got, expected * 3):
            assert out["pruned_context"] == want["pruned_context"]
            assert out["reranking_score"] == want["reranking_score"]


def test_the_gil_is_released_during_a_call(model):
    """Another Python thread keeps running while process() works: ticks of a 5 ms sleep loop go on
    throughout (with the GIL held they could not run until the call returned)."""
    docs = [f"Passage {i} says that Kyoto is cold in winter and sushi is rice and fish." for i in range(1000)]
    call = threading.Thread(target=model.process, args=("Is Kyoto cold?", docs), kwargs={"batch_size": 1,
                                                                                         "show_progress": False})
    ticks = []
    call.start()
    while call.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.005)
    call.join()
    took = ticks[-1] - ticks[0] if ticks else 0.0
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) >= 5 and max(gaps) < took / 2, (took, max(gaps, default=None), len(ticks))


def test_a_model_with_its_own_threads_gives_the_same_answer(model):
    own = OpenProvence.from_pretrained(FIXTURES / "process" / "model", threads=1)
    case = CASES[1]
    a = own.process(case["question"], case["context"], show_progress=False, **case["options"])
    b = model.process(case["question"], case["context"], show_progress=False, **case["options"])
    assert a["pruned_context"] == b["pruned_context"] and a["reranking_score"] == b["reranking_score"]


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_keyboard_interrupt_between_batches(model):
    docs = [f"Passage {i} says that Kyoto is cold in winter and sushi is rice and fish." for i in range(4000)]

    def timed_400():
        start = time.perf_counter()
        out = model.process("Is Kyoto cold?", docs[:400], batch_size=1, show_progress=False)
        return time.perf_counter() - start, out

    # The quicker of two runs: a load spike during one cannot push the signal past the call's end.
    (per_400, full), (other, _) = timed_400(), timed_400()
    per_400 = min(per_400, other)
    # A quarter of the way through the first 400 documents' worth of the 4000 (the call's first
    # sixth is tokenising, before any forward batch): long before the call ends.
    timer = threading.Timer(max(0.02, per_400 / 4), os.kill, (os.getpid(), signal.SIGINT))
    # Python's own handler, also where the tests were started with SIGINT ignored (a shell's
    # background job, `nohup`), which Python then keeps ignoring.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        timer.start()
        start = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            model.process("Is Kyoto cold?", docs, batch_size=1, show_progress=False)
        stopped = time.perf_counter() - start
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    # The whole call takes about 8-10x the 400-document one: it stopped well before its end (and
    # not after it, when Python itself would raise the KeyboardInterrupt).
    assert stopped < 5 * per_400, (stopped, per_400)
    again = model.process("Is Kyoto cold?", docs[:400], batch_size=1, show_progress=False)
    assert again["pruned_context"] == full["pruned_context"]
