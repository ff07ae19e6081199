"""The gateway's readiness: a gate at startup, then a report on each service.

Ready means a load balancer may send queries. Until the services are all ready (each
one's own `/readyz`: database, NATS, outbox), a first query could still meet a 503
from one of them, so the gateway answers 503 too. Past that gate it stays ready for
the life of the process: a service that fails later makes answers partial (its
fields null, with a 503 error), while taking every gateway out of the balancer would
make them all fail instead.
"""

from __future__ import annotations

from gateway.clients import Downstreams
from upward_common.observability import Readiness


class StartupGate:
    """Closed until one check finds every service ready (its `/readyz` 200); then open for good."""

    def __init__(self) -> None:
        self.open = False

    async def check(self, downstreams: Downstreams, within_seconds: float) -> Readiness:
        """Each service's readiness now; the gateway is ready (200) once the gate is open."""
        state = await downstreams.readiness(within_seconds)
        self.open = self.open or all(state.checks.values())
        state.ready = self.open
        return state
