"""Runs that outlive their request, independent of the protocol that started them (autonomous goals)."""

from .autonomous import Budgets, RecordEvent, pursue

__all__ = ["Budgets", "RecordEvent", "pursue"]
