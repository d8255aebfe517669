"""The suite's scheduler (tests/xdist_longest.py) on a made-up collection: two workers,
two long single tests, one long group and quick tests, as ``make test`` has them."""

from __future__ import annotations

from types import SimpleNamespace

from tests.xdist_longest import LongFirstScheduling

LONG = ("tests/system/test_slow.py", "tests/changes/test_stack.py")
COLLECTION = [
    "tests/system/test_slow.py::test_celery",
    "tests/system/test_slow.py::test_newcomer",
    "tests/changes/test_stack.py::test_a@stack",
    "tests/changes/test_stack.py::test_b@stack",
    "tests/changes/test_stack.py::test_c@stack",
    *(f"tests/provider/test_quick.py::test_{n}" for n in range(6)),
]


class Worker:
    """What the scheduler sees of a pytest-xdist worker: the tests it was sent."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.sent: list[str] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += [COLLECTION[i] for i in indices]

    def shutdown(self) -> None:
        self.shutting_down = True


def scheduler(workers: list[Worker]) -> LongFirstScheduling:
    config = SimpleNamespace(
        getvalue=lambda name: {"tx": [f"{len(workers)}*popen"]}[name],
        option=SimpleNamespace(loadscopereorder=False),
    )
    sched = LongFirstScheduling(config, None, LONG)
    for worker in workers:
        sched.add_node(worker)
        sched.add_node_collection(worker, COLLECTION)
    sched.schedule()
    return sched


def test_a_worker_starting_a_long_single_test_takes_a_quick_one_next() -> None:
    first, second = Worker("gw0"), Worker("gw1")
    scheduler([first, second])
    # each starts a long test; the one that must know its next test gets a quick one
    assert first.sent == ["tests/system/test_slow.py::test_celery", COLLECTION[5]]
    assert second.sent == ["tests/system/test_slow.py::test_newcomer", COLLECTION[6]]


def test_the_long_group_goes_to_the_first_worker_done_with_its_long_test() -> None:
    first, second = Worker("gw0"), Worker("gw1")
    sched = scheduler([first, second])
    sched.mark_test_complete(second, COLLECTION.index(second.sent[0]))
    assert second.sent[2:] == COLLECTION[2:5]  # the whole group, in order
    assert first.sent == ["tests/system/test_slow.py::test_celery", COLLECTION[5]]


def test_without_long_work_in_hand_the_queue_order_holds() -> None:
    only = Worker("gw0")
    sched = scheduler([only])
    assert only.sent == ["tests/system/test_slow.py::test_celery", COLLECTION[5]]
    sched.mark_test_complete(only, 0)
    sched.mark_test_complete(only, 5)
    assert only.sent[2] == "tests/system/test_slow.py::test_newcomer"


def test_a_worker_in_a_long_group_takes_more_only_on_its_last_test_and_a_quick_one() -> None:
    first, second = Worker("gw0"), Worker("gw1")
    sched = scheduler([first, second])
    sched.mark_test_complete(second, COLLECTION.index(second.sent[0]))
    sched.mark_test_complete(second, 6)  # its quick test: the group is all it has
    sched.mark_test_complete(second, 2)  # one running, one queued: nothing more yet
    assert second.sent[2:] == COLLECTION[2:5]
    sched.mark_test_complete(second, 3)  # on its last: the next quick test, not long work
    assert second.sent[5:] == [COLLECTION[7]]
