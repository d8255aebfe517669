"""The soak's killer: SIGKILLs an Airflow component at random times, then starts it again.

Kills go round the three kinds (a Celery worker, the triggerer, the scheduler) in a
shuffled order per cycle, so even a short soak kills each; gaps between kills are
exponential (mean ``every`` seconds). A killed component stays down a random few seconds,
as a crashed pod would before its restart.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from xero_demo.stack import AirflowStack


@dataclass
class Killer:
    stack: AirflowStack
    every: float
    seed: int
    random: random.Random = field(init=False)
    next_kill: float = field(init=False)
    down: dict[str, float] = field(default_factory=dict)  # component -> restart time
    kills: Counter = field(default_factory=Counter)
    cycle: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self.next_kill = float("inf")  # no kill before :meth:`start`

    def start(self) -> None:
        """Start the clock: the first kill comes a random gap from now (call it when the
        chaos begins, or the kills due during the set-up all land in its first second)."""
        self.next_kill = time.monotonic() + self.random.expovariate(1 / self.every)

    def _next_victim(self) -> str:
        if not self.cycle:
            self.cycle = ["worker", "triggerer", "scheduler"]
            self.random.shuffle(self.cycle)
        kind = self.cycle.pop()
        if kind == "worker":
            workers = sorted(n for n in self.stack.processes if n.startswith("worker-"))
            return self.random.choice(workers) if workers else "scheduler"
        return kind

    def step(self) -> str | None:
        """Restart what is due, kill when due; returns what was killed now, if anything."""
        now = time.monotonic()
        for name, when in list(self.down.items()):
            if now >= when:
                self.stack.launch(name)
                del self.down[name]
        if now < self.next_kill:
            return None
        self.next_kill = now + self.random.expovariate(1 / self.every)
        victim = self._next_victim()
        if victim not in self.stack.processes:  # still down from the last kill
            return None
        self.stack.kill(victim)
        self.kills[victim.split("-")[0]] += 1
        self.down[victim] = now + self.random.uniform(2, 15)
        return victim

    def restore(self) -> None:
        """Start everything still down (the soak's end: no component left dead)."""
        for name in list(self.down):
            self.stack.launch(name)
        self.down.clear()
