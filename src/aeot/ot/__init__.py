"""Pure optimal-transport maths on tensors: exact assignment, divergence, semi-discrete OT."""

from aeot.ot.exact import assignment, ot_divergence

__all__ = ["assignment", "ot_divergence"]
