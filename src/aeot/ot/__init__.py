"""Pure optimal-transport maths on tensors: exact assignment, divergence, semi-discrete OT."""

from aeot.ot.exact import assignment, ot_divergence
from aeot.ot.semidiscrete import SemiDiscreteResult, solve_semidiscrete

__all__ = ["SemiDiscreteResult", "assignment", "ot_divergence", "solve_semidiscrete"]
