"""Runs that outlive their request, independent of the protocol that started them (autonomous goals)."""

from .autonomous import Budgets, RecordEvent, goal_principal, pursue

__all__ = ["Budgets", "RecordEvent", "goal_principal", "pursue"]
