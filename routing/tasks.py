"""django-q2 entry points: take ids, call one service."""

from routing.route import team_drain
from routing.sweeps import routing_logs_prune, routing_sweep


def route_team(team_id: int, held: bool = False) -> int:
    return team_drain(team_id=team_id, held=held)


def sweep() -> dict[str, int]:
    return routing_sweep()


def prune_logs() -> int:
    return routing_logs_prune()
