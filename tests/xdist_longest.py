"""``--dist loadgroup`` with one change: a worker busy with a long unit of work takes a
short one as its next, so the long units start on workers that are free.

pytest-xdist hands a worker its next unit (a group, or one ungrouped test) as soon as it
has two tests or fewer left, because a worker runs a test only once it knows the next one.
A worker starting a long single test (the Celery stack) therefore took the next long unit
in the queue at once and ran the two one after the other, while the other workers went on
with quick tests: the suite's longest path was two long units end to end.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest
from xdist.scheduler import LoadGroupScheduling

if TYPE_CHECKING:
    from xdist.workermanage import WorkerController


class LongFirstScheduling(LoadGroupScheduling):
    """Long units (their node ids start with one of ``long_prefixes``) in queue order to
    free workers; a worker busy with a long unit gets more only when it must know its next
    test (on its last one), and then the first short unit."""

    def __init__(self, config: pytest.Config, log, long_prefixes: Iterable[str]) -> None:
        super().__init__(config, log)
        self.long_prefixes = tuple(long_prefixes)

    def _is_long(self, unit: dict[str, bool]) -> bool:
        return any(nodeid.startswith(self.long_prefixes) for nodeid in unit)

    def _reschedule(self, node: WorkerController) -> None:
        if node.shutting_down or not self.workqueue:
            super()._reschedule(node)
            return
        assigned = self.assigned_work[node]
        pending = self._pending_of(assigned)
        busy = any(self._is_long(unit) and not all(unit.values()) for unit in assigned.values())
        if pending > (1 if busy else 2):  # busy: wait until it is on its last test
            return
        if busy:
            short = next((s for s, unit in self.workqueue.items() if not self._is_long(unit)), None)
            if short is not None:
                self.workqueue.move_to_end(short, last=False)
        self._assign_work_unit(node)
