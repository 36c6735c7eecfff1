"""How many cores a CPU model may run on now: the cores its machine's other processes left
idle while it ran its last call, up to its share of the node.

A model on CPU that holds one reserved CPU but runs on all of its node's cores competes
with the tasks feeding it (a torch thread that loses its core stalls the others at every
barrier); one that runs on one thread leaves the other cores idle once its inputs are ready.
Measuring what the other processes used since the last call gives it the cores only while
nobody else wants them."""

from __future__ import annotations

import time

import psutil

# fields psutil has on Linux only; steal (time the hypervisor gave other machines) is left
# out, since no process of this machine used it
LINUX_BUSY = ("irq", "softirq")


def threads_for(idle_cores: float, limit: int) -> int:
    """Threads for `idle_cores` left idle by others (rounded to the nearest core), at least
    one and at most `limit`."""
    return max(1, min(limit, int(idle_cores + 0.5)))


class IdleCores:
    """Call it before each piece of work; it returns the threads to run that work on."""

    def __init__(self, limit: int):
        self.limit = limit
        self.process = psutil.Process()
        self.cores = psutil.cpu_count() or 1
        self._mark()

    def __call__(self) -> int:
        wall, busy, own = self.wall, self.busy, self.own
        self._mark()
        elapsed = self.wall - wall
        if elapsed <= 0:
            return 1
        others = max(0.0, (self.busy - busy) - (self.own - own)) / elapsed
        return threads_for(self.cores - others, self.limit)

    def _mark(self) -> None:
        system, mine = psutil.cpu_times(), self.process.cpu_times()
        self.wall = time.monotonic()
        self.busy = system.user + system.nice + system.system + sum(getattr(system, f, 0) for f in LINUX_BUSY)
        self.own = mine.user + mine.system
