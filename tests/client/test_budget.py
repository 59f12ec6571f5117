"""Budgets refuse before sending; a shared budget holds across processes (pytest-xdist workers)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from harness import BudgetExceeded, ConfigError
from harness.client import Budget, SharedBudget


def test_budget_spends_up_to_its_cap_and_refuses_after() -> None:
    budget = Budget(2)
    budget.spend()
    budget.spend()
    with pytest.raises(BudgetExceeded, match="3 requests wanted, 2 allowed"):
        budget.spend()
    assert budget.spent == 2


def test_budget_refuses_a_plan_larger_than_what_remains() -> None:
    budget = Budget(5)
    budget.spend(3)
    budget.check(2)
    with pytest.raises(BudgetExceeded):
        budget.check(3)


def test_negative_budget_is_a_user_mistake() -> None:
    with pytest.raises(ConfigError):
        Budget(-1)


def _spend_all(path: str, attempts: int, out: multiprocessing.Queue[int]) -> None:
    budget, spent = SharedBudget(50, Path(path)), 0
    for _ in range(attempts):
        try:
            budget.spend()
            spent += 1
        except BudgetExceeded:
            pass
    out.put(spent)


def test_shared_budget_never_exceeds_its_cap_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "budget"
    results: multiprocessing.Queue[int] = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_spend_all, args=(str(path), 40, results)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert sum(results.get(timeout=5) for _ in workers) == 50
    assert SharedBudget(50, path).remaining == 0
